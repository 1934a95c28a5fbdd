"""A persistent cache of resolved digests, and committed lock files.

The cache lives in the user's cache folder (`HARDENER_CACHE_DIR` overrides it)
as one JSON file keyed by reference (docker.io/library/python:3.12-slim). An
entry is used for `digest-cache-ttl` seconds online, and without limit with
--offline. A lock file is a JSON object {"reference": "sha256:..."} a project
commits so offline runs pin the same digests everywhere. Both are read within
a size limit, and only digests of the exact form sha256:<64 hex> are used.
"""

from __future__ import annotations

import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path

from hardener.config import MAX_LOCK_FILE_BYTES
from hardener.files import read_regular_file
from hardener.model import InputError
from hardener.pinning import Resolution, reference_key
from hardener.registry.checks import is_digest

MAX_CACHE_BYTES = 64 * 1024 * 1024


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
            data = json.loads(read_regular_file(str(self.path), MAX_CACHE_BYTES, "digest cache: "))
        except (InputError, ValueError, UnicodeDecodeError, RecursionError):
            return  # a missing or unusable cache only costs time
        if isinstance(data, dict):
            self.entries = {k: v for k, v in data.items() if _usable_entry(v)}

    def get(self, key: str, max_age: float | None) -> Resolution | None:
        entry = self.entries.get(key)
        if entry is None or (max_age is not None and time.time() - entry.get("at", 0) > max_age):
            return None
        self.hits += 1
        return Resolution(key, entry["digest"], entry.get("media_type"), cached=True)

    def put(self, resolution: Resolution) -> None:
        if is_digest(resolution.digest):
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


def _usable_entry(entry) -> bool:
    """A cache entry is used only if every field has the shape hardener wrote; others are ignored."""
    return (
        isinstance(entry, dict)
        and is_digest(entry.get("digest"))
        and isinstance(entry.get("media_type"), (str, type(None)))
        and isinstance(entry.get("at", 0), (int, float))
        and not isinstance(entry.get("at", 0), bool)
        and math.isfinite(entry.get("at", 0))
    )


def read_lock_file(path: Path) -> dict[str, Resolution]:
    """{reference: digest} from a committed lock file; anything unusable is a one-line InputError."""
    where = str(path)
    data = read_regular_file(where, MAX_LOCK_FILE_BYTES, "digest-lock-file: ")
    try:
        text = data.decode("utf-8-sig")
        entries = json.loads(text)
    except UnicodeDecodeError:
        raise InputError("digest-lock-file: not UTF-8 text", 0, where) from None
    except json.JSONDecodeError as exc:
        raise InputError(f"digest-lock-file: invalid JSON ({exc.msg})", exc.lineno, where) from None
    except (ValueError, RecursionError):
        raise InputError("digest-lock-file: invalid JSON", 0, where) from None
    if not isinstance(entries, dict):
        raise InputError('digest-lock-file: must be a JSON object {"reference": "sha256:..."}', 1, where)
    out = {}
    for reference, digest in entries.items():
        if not is_digest(digest):
            raise InputError(
                "digest-lock-file: a digest must be sha256: and 64 lower-case hex digits, nothing else",
                _line_of(text, reference),
                where,
            )
        key = reference_key(reference)
        out[key] = Resolution(key, digest, cached=True)
    return out


def _line_of(text: str, key: str) -> int:
    """The line a JSON object key is written on (0 if it cannot be found)."""
    at = text.find(json.dumps(key) + ":")
    if at < 0:
        at = text.find(json.dumps(key))
    return text.count("\n", 0, at) + 1 if at >= 0 else 0
