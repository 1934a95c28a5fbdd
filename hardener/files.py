"""Reading and writing files: strict decoding, and atomic writes that keep mode and owner."""

from __future__ import annotations

import codecs
import os
import tempfile
from dataclasses import dataclass

from hardener.model import InputError

MAX_BYTES = 5 * 1024 * 1024  # container definitions are small; anything larger is not one


@dataclass(frozen=True)
class SourceFile:
    path: str
    text: str  # decoded, without the byte-order mark
    bom: bool
    raw: bytes  # exactly what was read, to detect a change before writing

    def encode(self, text: str) -> bytes:
        data = text.encode("utf-8")
        return codecs.BOM_UTF8 + data if self.bom else data


def read_source(path: str) -> SourceFile:
    try:
        size = os.path.getsize(path)
        if size > MAX_BYTES:
            raise InputError(f"file is {size} bytes, over the {MAX_BYTES}-byte limit", 0, path)
        with open(path, "rb") as fh:
            raw = fh.read()
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}", 0, path) from None
    if not raw.strip():
        raise InputError("empty file", 1 if raw else 0, path)
    if b"\0" in raw:
        raise InputError("binary file (NUL byte)", raw[: raw.index(b"\0")].count(b"\n") + 1, path)
    bom = raw.startswith(codecs.BOM_UTF8)
    data = raw[len(codecs.BOM_UTF8) :] if bom else raw
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputError(f"not UTF-8 text (byte 0x{data[exc.start]:02x})", line, path) from None
    return SourceFile(path, text, bom, raw)


def write_atomic(source: SourceFile, text: str) -> None:
    """Replace the file's content in one step; the file is never half-written.

    Refuses when the file changed since it was read. A symlink is kept: its
    target is rewritten.
    """
    target = os.path.realpath(source.path)
    try:
        with open(target, "rb") as fh:
            if fh.read() != source.raw:
                raise InputError("file changed while hardener was working on it; not written", 0, source.path)
        st = os.stat(target)
    except OSError as exc:
        raise InputError(f"cannot read before writing: {exc.strerror or exc}", 0, source.path) from None
    if not os.access(target, os.W_OK):
        # A rename would replace the file anyway: honour the read-only mode instead.
        raise InputError("file is read-only; not written", 0, source.path)
    folder = os.path.dirname(target)
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(target)}.", suffix=".hardener", dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(source.encode(text))
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, st.st_mode & 0o7777)
        if hasattr(os, "chown"):
            try:
                os.chown(tmp, st.st_uid, st.st_gid)
            except PermissionError:
                pass  # only root may give a file away; the owner is then us, as before
        os.replace(tmp, target)
    except OSError as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise InputError(f"cannot write: {exc.strerror or exc}", 0, source.path) from None
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
