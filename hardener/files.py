"""Reading and writing files: strict decoding, atomic writes that keep mode and owner, and the root
folder that nothing outside of is read or written.

The root is the repository holding the path (the nearest folder with `.git`), or, outside one, the
current folder (or, for a path outside that, the folder named). The GitHub Action confines every run to
its workspace. A symbolic link may lead anywhere inside the root; one that leaves it is never followed.
Reads and writes open the last path component with O_NOFOLLOW, from a folder whose resolved path was
checked to be inside the root, so a file swapped for a link meanwhile is refused, never followed.
"""

from __future__ import annotations

import codecs
import contextlib
import errno
import os
import secrets
import stat
from dataclasses import dataclass

from hardener.model import InputError

MAX_BYTES = 5 * 1024 * 1024  # container definitions are small; anything larger is not one

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)  # a FIFO swapped in must not block the open

_confined_root: str | None = None


@dataclass(frozen=True)
class SourceFile:
    path: str
    text: str  # decoded, without the byte-order mark
    bom: bool
    raw: bytes  # exactly what was read, to detect a change before writing
    root: str = ""  # the resolved root folder the file was read inside; writes stay inside it too

    def encode(self, text: str) -> bytes:
        data = text.encode("utf-8")
        return codecs.BOM_UTF8 + data if self.bom else data


# -- the root ------------------------------------------------------------------------------------------
@contextlib.contextmanager
def confined_to(folder: str):
    """Within the block, the root of every path is `folder` (the Action's workspace)."""
    global _confined_root
    previous, _confined_root = _confined_root, os.path.realpath(folder)
    try:
        yield _confined_root
    finally:
        _confined_root = previous


def repository_of(folder: str) -> str | None:
    """The nearest folder at or above `folder` (a resolved path) that holds `.git`."""
    current = folder
    while True:
        if os.path.lexists(os.path.join(current, ".git")):
            return current
        parent = os.path.dirname(current)
        if parent == current:
            return None
        current = parent


def root_for(path: str) -> str:
    """The resolved root folder for a path named by the user (see the module's docstring)."""
    if _confined_root is not None:
        return _confined_root
    cwd = os.getcwd()  # already resolved
    cwd_root = repository_of(cwd) or cwd
    absolute = os.path.abspath(path)
    if is_inside(absolute, cwd_root):
        return cwd_root
    # Named outside the current tree: the user chose this place, so its own folder is trusted.
    own = absolute if os.path.isdir(absolute) and not os.path.islink(absolute) else os.path.dirname(absolute)
    start = os.path.realpath(own)
    return repository_of(start) or start


def _root_of_file(path: str) -> str:
    return root_for(os.path.dirname(os.path.abspath(path)))


def is_inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def resolve_inside(path: str, root: str | None = None) -> str | None:
    """The resolved path, or None when it (after following every link) leaves the root."""
    root = os.path.realpath(root or root_for(path))
    real = os.path.realpath(path)
    return real if is_inside(real, root) else None


OUTSIDE = "is outside the repository (following symbolic links)"


# -- opening without following links ----------------------------------------------------------------
def _open_folder(path: str, root: str, display: str, action: str) -> tuple[int, str]:
    """A descriptor of the resolved folder holding `path`, checked to be inside root, and the last component."""
    folder, name = os.path.split(os.path.abspath(path))
    real_folder = os.path.realpath(folder)
    if not is_inside(real_folder, root):
        raise InputError(f"{OUTSIDE}; {action}", 0, display)
    dfd = os.open(real_folder, os.O_RDONLY | _DIRECTORY | _NOFOLLOW | _CLOEXEC)
    opened = _descriptor_path(dfd)
    if opened is not None and not is_inside(opened, root):
        os.close(dfd)  # a folder was swapped for a link between resolving and opening it
        raise InputError(f"{OUTSIDE}; {action}", 0, display)
    return dfd, name


def _descriptor_path(fd: int) -> str | None:
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return None


def _strerror(exc: OSError) -> str:
    return exc.strerror or str(exc)


# -- reading ------------------------------------------------------------------------------------------
def read_source(path: str, root: str | None = None) -> SourceFile:
    real_root = os.path.realpath(root or _root_of_file(path))
    try:
        dfd, name = _open_folder(path, real_root, path, "not read")
        try:
            fd = os.open(name, os.O_RDONLY | _NOFOLLOW | _NONBLOCK | _CLOEXEC, dir_fd=dfd)
        finally:
            os.close(dfd)
        with os.fdopen(fd, "rb") as fh:
            st = os.fstat(fh.fileno())
            if stat.S_ISDIR(st.st_mode):
                raise InputError(f"cannot read: {os.strerror(errno.EISDIR)}", 0, path)
            if not stat.S_ISREG(st.st_mode):
                raise InputError("not a regular file", 0, path)
            if st.st_size > MAX_BYTES:
                raise InputError(f"file is {st.st_size} bytes, over the {MAX_BYTES}-byte limit", 0, path)
            raw = fh.read(MAX_BYTES + 1)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise InputError("is a symbolic link; not followed", 0, path) from None
        raise InputError(f"cannot read: {_strerror(exc)}", 0, path) from None
    if len(raw) > MAX_BYTES:
        raise InputError(f"file is over the {MAX_BYTES}-byte limit", 0, path)
    text, bom = decode_source(raw, path)
    return SourceFile(path, text, bom, raw, real_root)


def decode_source(raw: bytes, path: str) -> tuple[str, bool]:
    """(text, whether it starts with a UTF-8 byte-order mark) of a source's bytes, or a one-line InputError.

    The text keeps its line endings; the byte-order mark is left out of it.
    """
    if len(raw) > MAX_BYTES:
        raise InputError(f"input is over the {MAX_BYTES}-byte limit", 0, path)
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
    return text, bom


# -- writing ------------------------------------------------------------------------------------------
def write_atomic(source: SourceFile, text: str) -> None:
    """Replace the file's content in one step; the file is never half-written.

    Refuses when the file changed since it was read, or became a symbolic link: nothing is written
    through a link, and nothing outside the root.
    """
    root = source.root or _root_of_file(source.path)
    try:
        dfd, name = _open_folder(source.path, root, source.path, "not written")
    except OSError as exc:
        raise InputError(f"cannot read before writing: {_strerror(exc)}", 0, source.path) from None
    try:
        try:
            fd = os.open(name, os.O_RDONLY | _NOFOLLOW | _NONBLOCK | _CLOEXEC, dir_fd=dfd)
            with os.fdopen(fd, "rb") as fh:
                st = os.fstat(fh.fileno())
                if not stat.S_ISREG(st.st_mode) or fh.read(MAX_BYTES + 1) != source.raw:
                    raise InputError("file changed while hardener was working on it; not written", 0, source.path)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise InputError("file became a symbolic link; not written", 0, source.path) from None
            raise InputError(f"cannot read before writing: {_strerror(exc)}", 0, source.path) from None
        if not os.access(name, os.W_OK, dir_fd=dfd):
            # A rename would replace the file anyway: honour the read-only mode instead.
            raise InputError("file is read-only; not written", 0, source.path)
        _replace(dfd, name, source.encode(text), st, source.path, keep_owner=True)
    finally:
        os.close(dfd)


def _replace(dfd: int, name: str, data: bytes, st, display: str, keep_owner: bool) -> None:
    """Write data to a new hidden file in the folder, then rename it over `name` in one step.

    A rename replaces a link itself and never writes through it. `st` is the file being replaced (its
    mode and owner are kept, and it must still be that same file), or None for a new file.
    """
    tmp = fd = None
    try:
        for _ in range(100):
            candidate = f".{name}.{secrets.token_hex(4)}.hardener"
            try:
                fd = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC, 0o600, dir_fd=dfd)
            except FileExistsError:
                continue
            tmp = candidate
            break
        else:
            raise InputError("cannot write: no free temporary file name", 0, display)
        with os.fdopen(fd, "wb") as fh:
            fd = None
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
            if st is not None:
                os.fchmod(fh.fileno(), st.st_mode & 0o7777)
                if keep_owner:
                    try:
                        os.fchown(fh.fileno(), st.st_uid, st.st_gid)
                    except PermissionError:
                        pass  # only root may give a file away; the owner is then us, as before
            else:
                umask = os.umask(0)
                os.umask(umask)
                os.fchmod(fh.fileno(), 0o666 & ~umask)
        if st is not None:
            try:
                now = os.stat(name, dir_fd=dfd, follow_symlinks=False)
            except FileNotFoundError:
                now = None
            if now is None or (now.st_dev, now.st_ino) != (st.st_dev, st.st_ino):
                raise InputError("file changed while hardener was working on it; not written", 0, display)
        os.replace(tmp, name, src_dir_fd=dfd, dst_dir_fd=dfd)
        tmp = None
    except OSError as exc:
        raise InputError(f"cannot write: {_strerror(exc)}", 0, display) from None
    finally:
        if fd is not None:
            os.close(fd)
        if tmp is not None:
            try:
                os.unlink(tmp, dir_fd=dfd)
            except OSError:
                pass


def write_report(path: str, text: str, root: str | None = None) -> None:
    """Write a report file without following a link at its name.

    A regular file (or a new one) is replaced atomically, keeping its mode; a device or FIFO such as
    /dev/null is written in place. With `root`, the file's resolved folder must be inside it.
    Raises InputError.
    """
    data = text.encode("utf-8")
    if root is not None:
        dfd, name = _open_folder(path, os.path.realpath(root), path, "not written")
    else:
        folder, name = os.path.split(os.path.abspath(path))
        try:
            dfd = os.open(folder, os.O_RDONLY | _DIRECTORY | _CLOEXEC)
        except OSError as exc:
            raise InputError(f"cannot write: {_strerror(exc)}", 0, path) from None
    try:
        try:
            st = os.stat(name, dir_fd=dfd, follow_symlinks=False)
        except FileNotFoundError:
            st = None
        except OSError as exc:
            raise InputError(f"cannot write: {_strerror(exc)}", 0, path) from None
        if st is not None and stat.S_ISLNK(st.st_mode):
            raise InputError("it is a symbolic link; not written", 0, path)
        if st is not None and stat.S_ISDIR(st.st_mode):
            raise InputError(f"cannot write: {os.strerror(errno.EISDIR)}", 0, path)
        if st is None or stat.S_ISREG(st.st_mode):
            _replace(dfd, name, data, st, path, keep_owner=True)
            return
        try:
            fd = os.open(name, os.O_WRONLY | _NOFOLLOW | _NONBLOCK | _CLOEXEC, dir_fd=dfd)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
        except OSError as exc:
            raise InputError(f"cannot write: {_strerror(exc)}", 0, path) from None
    finally:
        os.close(dfd)


def read_regular_file(path: str, limit: int, label: str = "") -> bytes:
    """The bytes of a regular file of at most `limit` bytes, or a one-line InputError naming it.

    For files a repository names (settings, a lock file, a CA bundle): never waits on a FIFO, never
    reads a device, never more than the limit. `label` starts each message ("digest-lock-file: ").
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)  # non-blocking: opening a FIFO must not wait for a writer
    except FileNotFoundError:
        raise InputError(f"{label}the file does not exist", 0, path) from None
    except OSError as exc:
        raise InputError(f"{label}cannot read ({exc.strerror or type(exc).__name__})", 0, path) from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise InputError(f"{label}is a folder, not a file", 0, path)
        if not stat.S_ISREG(info.st_mode):
            raise InputError(f"{label}is not a regular file (a device, pipe or socket); not read", 0, path)
        if info.st_size > limit:
            raise InputError(f"{label}is larger than {limit} bytes; not read", 0, path)
        chunks, size = [], 0
        while size <= limit:  # the file may grow while it is read
            try:
                chunk = os.read(fd, min(65536, limit + 1 - size))
            except OSError as exc:
                raise InputError(f"{label}cannot read ({exc.strerror or type(exc).__name__})", 0, path) from None
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:
            raise InputError(f"{label}is larger than {limit} bytes; not read", 0, path)
        return b"".join(chunks)
    finally:
        os.close(fd)
