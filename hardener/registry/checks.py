"""Checks shared by the registry edge: the one digest format hardener writes, and bounded file reads.

Digests reach hardener from registry headers, manifest bodies, the cache and
lock files; each is checked here before it can be written into a file.
Settings files (the CA bundle, the lock file) are named by the scanned
repository, so they are read only if they are small regular files.
"""

from __future__ import annotations

import os
import re
import stat

from hardener.model import InputError

# Exactly this, nothing before or after (no trailing newline either): what a pin writes after `@`.
_SHA256_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


def is_digest(value) -> bool:
    return isinstance(value, str) and _SHA256_DIGEST.fullmatch(value) is not None


def read_setting_file(path: str, limit: int, setting: str) -> bytes:
    """The bytes of a regular file of at most `limit` bytes, or a one-line InputError naming it."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)  # non-blocking: opening a FIFO must not wait for a writer
    except FileNotFoundError:
        raise InputError(f"{setting}: the file does not exist", 0, path) from None
    except OSError as exc:
        raise InputError(f"{setting}: cannot read ({exc.strerror or type(exc).__name__})", 0, path) from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise InputError(f"{setting}: is a folder, not a file", 0, path)
        if not stat.S_ISREG(info.st_mode):
            raise InputError(f"{setting}: is not a regular file (a device, pipe or socket); not read", 0, path)
        if info.st_size > limit:
            raise InputError(f"{setting}: is larger than {limit} bytes; not read", 0, path)
        chunks, size = [], 0
        while size <= limit:  # the file may grow while it is read
            try:
                chunk = os.read(fd, min(65536, limit + 1 - size))
            except OSError as exc:
                raise InputError(f"{setting}: cannot read ({exc.strerror or type(exc).__name__})", 0, path) from None
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:
            raise InputError(f"{setting}: is larger than {limit} bytes; not read", 0, path)
        return b"".join(chunks)
    finally:
        os.close(fd)
