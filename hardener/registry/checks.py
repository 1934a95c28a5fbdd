"""The one digest format hardener writes, checked at the registry edge.

Digests reach hardener from registry headers, manifest bodies, the cache and
lock files; each is checked here before it can be written into a file.
"""

from __future__ import annotations

import re

# Exactly this, nothing before or after (no trailing newline either): what a pin writes after `@`.
_SHA256_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


def is_digest(value) -> bool:
    return isinstance(value, str) and _SHA256_DIGEST.fullmatch(value) is not None
