"""Which variable names suggest they hold a secret: shared by the Dockerfile and compose rules."""

from __future__ import annotations

import re

_SECRET_NAME = re.compile(
    r"(PASSWORD|PASSWD|PASSPHRASE|SECRET|TOKEN|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|CREDENTIALS?|AUTH_KEY)", re.IGNORECASE
)
# Names that point at a secret rather than hold it.
_REFERENCE_SUFFIX = re.compile(r"_(FILE|PATH|DIR|URL|URI|ENDPOINT|HEADER|NAME|LENGTH|TTL|EXPIRY|TYPE)$", re.IGNORECASE)


def looks_secret(name: str) -> bool:
    """A variable name that suggests it holds a secret (and not a path or URL to one)."""
    return bool(_SECRET_NAME.search(name)) and not _REFERENCE_SUFFIX.search(name)
