"""A persistent cache of resolved digests, and committed lock files.

The cache lives in the user's cache folder (`HARDENER_CACHE_DIR` overrides it)
as one JSON file keyed by reference (docker.io/library/python:3.12-slim). An
entry is used for `digest-cache-ttl` seconds online, and without limit with
--offline. A lock file is a JSON object {"reference": "sha256:..."} a project
commits so offline runs pin the same digests everywhere.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

from hardener.pinning import DIGEST, Resolution, reference_key


def cache_folder() -> Path:
    configured = os.environ.get("HARDENER_CACHE_DIR")
    if configured:
        return Path(configured)
    if sys.platform.startswith("linux"):
        # The XDG rule platformdirs applies on Linux, without importing it on every start.
        return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "hardener"
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("hardener"))


class DigestCache:
    def __init__(self, path: Path | None = None):
        self.path = path or cache_folder() / "digests.json"
        self.entries: dict[str, dict] = {}
        self.hits = 0
        self._dirty = False
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            if isinstance(data, dict):
                self.entries = {
                    k: v for k, v in data.items() if isinstance(v, dict) and DIGEST.match(str(v.get("digest")))
                }
        except (OSError, ValueError):
            pass

    def get(self, key: str, max_age: float | None) -> Resolution | None:
        entry = self.entries.get(key)
        if entry is None or (max_age is not None and time.time() - entry.get("at", 0) > max_age):
            return None
        self.hits += 1
        return Resolution(key, entry["digest"], entry.get("media_type"), cached=True)

    def put(self, resolution: Resolution) -> None:
        if resolution.digest:
            self.entries[resolution.key] = {
                "digest": resolution.digest,
                "media_type": resolution.media_type,
                "at": time.time(),
            }
            self._dirty = True

    def save(self) -> None:
        if not self._dirty:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".digests.", suffix=".json")
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(self.entries, fh, indent=1, sort_keys=True)
            os.replace(tmp, self.path)
        except OSError:
            pass  # a cache that cannot be written only costs time


def read_lock_file(path: Path) -> dict[str, Resolution]:
    """{reference: digest} from a committed lock file; invalid entries are ignored."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    out = {}
    for reference, digest in data.items():
        if isinstance(reference, str) and isinstance(digest, str) and DIGEST.match(digest):
            key = reference_key(reference)
            out[key] = Resolution(key, digest, cached=True)
    return out
