"""What a stage's container starts with, and whether that must start as root.

The USER fix (HD101) reads the entrypoint, not only the Dockerfile: it follows ENTRYPOINT/CMD to the
script the Dockerfile copies from the build context, and the scripts that one sources or execs, and
looks there for the signs of a process that must start as root: it changes users or ownership, drops
privileges itself (gosu, su-exec, setpriv), runs an init system (s6-overlay, supervisord) or cron.
Pure: the scripts' texts come from the repository the edge read.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass

from hardener.evidence.repository import Repository, join, normalise

# Programs that run another program: the one after them is what the container really starts.
_WRAPPERS = {"tini", "dumb-init", "catatonit", "exec", "env", "nice", "nohup", "stdbuf", "timeout"}
_SHELLS = {"sh", "bash", "ash", "dash", "zsh", "ksh"}
# Programs that, started directly, show the container must start as root.
_ROOT_PROGRAMS = {
    "/init": "s6-overlay's `/init`, which sets up services as root",
    "supervisord": "supervisord, which starts its programs as root or as the users it is told",
    "crond": "cron (`crond`), which runs as root",
    "cron": "cron, which runs as root",
    "systemd": "systemd, which runs as root",
    "runsvdir": "runit (`runsvdir`), which supervises services as root",
    "s6-svscan": "s6 (`s6-svscan`), which supervises services as root",
}
# Commands in an entrypoint script that need root, and how the reason names them.
_ROOT_COMMANDS = {
    "usermod": "changes a user (`usermod`)",
    "groupmod": "changes a group (`groupmod`)",
    "useradd": "creates a user (`useradd`)",
    "adduser": "creates a user (`adduser`)",
    "addgroup": "creates a group (`addgroup`)",
    "groupadd": "creates a group (`groupadd`)",
    "chown": "changes ownership (`chown`)",
    "chmod": "changes permissions (`chmod`)",
    "su": "switches user itself (`su`)",
    "gosu": "drops privileges itself (`gosu`)",
    "su-exec": "drops privileges itself (`su-exec`)",
    "setpriv": "drops privileges itself (`setpriv`)",
    "chpst": "drops privileges itself (`chpst`)",
    "s6-setuidgid": "drops privileges itself (`s6-setuidgid`)",
    "runuser": "switches user itself (`runuser`)",
    "capsh": "sets capabilities (`capsh`)",
    "setcap": "sets file capabilities (`setcap`)",
    "crond": "starts cron (`crond`)",
    "cron": "starts cron",
    "supervisord": "starts supervisord",
    "sysctl": "changes kernel settings (`sysctl`)",
    "mount": "mounts file systems (`mount`)",
    "iptables": "changes the firewall (`iptables`)",
    "update-ca-certificates": "updates the system's certificates (`update-ca-certificates`)",
    "apt-get": "installs packages when it starts (`apt-get`)",
    "apk": "installs packages when it starts (`apk`)",
}
_COMMAND = re.compile(
    r"(?:^|[;&|(`{]|\$\(|\bthen\b|\bdo\b|\belse\b|\bexec\b|\bsudo\b)\s*(?:exec\s+)?"
    r"(?:/usr/(?:local/)?s?bin/|/s?bin/)?(?P<cmd>" + "|".join(re.escape(c) for c in _ROOT_COMMANDS) + r")(?=\s|$|;)"
)
_ID_CHECK = re.compile(r"\$\(\s*id\s+-u\s*\)|`id -u`|\$\{?EUID\}?|\$\{?UID\}?\b")
# `. /path`, `source /path`, `exec /path`, or a path run as a command.
_RUNS_SCRIPT = re.compile(
    r"(?:^|[;&|]|\bthen\b|\bdo\b)\s*(?:(?:\.|source|exec|sh|bash|run-parts)\s+)?(?P<path>/[\w./-]+)"
)
MAX_SCRIPT_DEPTH = 3
_PATH = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")


@dataclass(frozen=True)
class Entrypoint:
    """What the stage starts, what hardener read of it, and whether it must start as root."""

    command: tuple[str, ...]  # the effective ENTRYPOINT + CMD words (empty when inherited from the base)
    program: str | None  # the program it really starts, past wrappers such as tini
    own: bool  # the stage (or a stage it builds on in this file) sets ENTRYPOINT or CMD itself
    scripts: tuple[str, ...] = ()  # repository paths of the scripts read
    needs_root: str | None = None  # why it must start as root
    unread: str | None = None  # why a script it starts could not be read


def entrypoint_of(stage, repository: Repository, contexts: tuple[str, ...]) -> Entrypoint:
    """Follow the stage's ENTRYPOINT/CMD into the build context (`contexts`: repository folders to try)."""
    entry, cmd = _last(stage, "ENTRYPOINT"), _last(stage, "CMD")
    own = entry is not None or cmd is not None
    words = [*_words(entry), *_words(cmd)]
    program, arguments = _program(words)
    if not program:
        return Entrypoint(tuple(words), None, own)
    name = posixpath.basename(program)
    for key in (program, name):
        if key in _ROOT_PROGRAMS:
            return Entrypoint(tuple(words), program, own, needs_root=f"it starts {_ROOT_PROGRAMS[key]}")
    if name in _ROOT_COMMANDS and name not in ("apt-get", "apk", "chmod", "chown"):
        return Entrypoint(tuple(words), program, own, needs_root=f"its command {_ROOT_COMMANDS[name]}")
    if "/" in program:
        source = copied_source(stage, program, _workdir_at(stage, entry or cmd))
    else:  # looked up in PATH: a script copied into one of its folders
        source = next(
            (found for folder in _PATH if (found := copied_source(stage, f"{folder}/{program}")) is not None), None
        )
    if source is None:
        return Entrypoint(tuple(words), program, own)
    read: list[str] = []
    reason, unread = _scan_script(stage, source, repository, contexts, read, 0)
    return Entrypoint(tuple(words), program, own, tuple(read), reason, unread)


def _last(stage, keyword: str):
    for s in stage.lineage:
        for instr in reversed(s.instructions):
            if instr.keyword == keyword:
                return instr
    return None


def _words(instr) -> list[str]:
    if instr is None:
        return []
    if instr.is_json:
        return list(instr.value)
    return ["sh", "-c", instr.args]


def _program(words: list[str]) -> tuple[str | None, list[str]]:
    """The program past wrappers (tini --, sh -c "...", bash script.sh) and its arguments."""
    rest = list(words)
    for _ in range(8):
        if not rest:
            return None, []
        first = posixpath.basename(rest[0])
        if first in _WRAPPERS:
            rest = rest[1:]
            while rest and (rest[0].startswith("-") or (first == "env" and "=" in rest[0])):
                rest = rest[1:]
            continue
        if first in _SHELLS:
            if len(rest) >= 3 and rest[1] in ("-c", "-ec", "-ex", "-xc", "-euc", "-eu"):
                inner = rest[2].strip()
                rest = _split(inner)
                continue
            args = [w for w in rest[1:] if not w.startswith("-")]
            if args:
                rest = args
                continue
            return rest[0], rest[1:]
        return rest[0], rest[1:]
    return None, []


def _split(command: str) -> list[str]:
    import shlex

    first = re.split(r"\s*(?:&&|\|\||;|\|)\s*", command, maxsplit=1)[0]
    try:
        return shlex.split(first)
    except ValueError:
        return first.split()


def _workdir_at(stage, until) -> str:
    workdir = "/"
    for s in reversed(stage.lineage):
        for instr in s.instructions:
            if until is not None and instr is until:
                return workdir
            if instr.keyword == "WORKDIR" and instr.value:
                workdir = posixpath.join(workdir, instr.value[0])
    return workdir


def copied_source(stage, program: str, workdir: str = "/") -> str | None:
    """The build-context path that COPY/ADD put at `program`, or None when it comes from elsewhere: the base
    image, a package, or another stage (`COPY --from`, where programs are built)."""
    target = posixpath.normpath(posixpath.join(workdir, program))
    for s in stage.lineage:
        for instr in reversed(s.instructions):
            if instr.keyword not in ("COPY", "ADD") or len(instr.value) < 2 or instr.has_heredoc:
                continue
            *sources, dest = instr.value
            dest_abs = posixpath.normpath(posixpath.join(_workdir_at(stage, instr), dest))
            into_folder = dest.endswith("/") or len(sources) > 1
            for src in sources:
                if "://" in src:
                    continue
                base = posixpath.basename(src.rstrip("/"))
                hit = None
                if not into_folder and dest_abs == target:
                    hit = src
                elif target.startswith(dest_abs.rstrip("/") + "/"):
                    relative = target[len(dest_abs.rstrip("/")) + 1 :]
                    if base == relative or (into_folder and not src.endswith("/") and base == relative):
                        hit = src
                    elif src.endswith("/") or src in (".", "./") or "." not in base:
                        hit = posixpath.join(src, relative)  # a folder copied whole
                if hit is not None:
                    # Built in another stage (a compiled program), or taken from an image: not a script here.
                    return None if instr.flag("from") else hit
    return None


def _scan_script(stage, source, repository, contexts, read, depth) -> tuple[str | None, str | None]:
    """(why it must start as root, why a script could not be read) for a script copied from the context."""
    path = next(
        (p for p in (join(c, source) for c in contexts) if p is not None and repository.text(p) is not None), None
    )
    if path is None:
        unread = next((p for p in (join(c, source) for c in contexts) if p is not None and repository.has(p)), None)
        if unread is not None:
            return None, f"`{unread}` could not be read (too large or not text)"
        present = any(p is not None and p in repository.present for p in (join(c, source) for c in contexts))
        if present or not looks_like_script(source):
            # A program, not a script: a binary in the repository, or one CI builds before `docker build`.
            return None, None
        if not repository.known:
            return None, f"the entrypoint `{source}` was not given (no repository read)"
        if any(glob in source for glob in "*?["):
            return None, f"the entrypoint comes from `{source}`, a pattern hardener does not expand"
        return None, f"the entrypoint `{source}` is not in the build context hardener read"
    if path in read:
        return None, None
    read.append(path)
    text = repository.text(path) or ""
    for number, line in enumerate(text.splitlines(), 1):
        code = _code(line)
        if not code:
            continue
        match = _COMMAND.search(code)
        if match:
            return f"entrypoint `{path}` {_ROOT_COMMANDS[match.group('cmd')]} on line {number}", None
        if _ID_CHECK.search(code) and re.search(r"\b(0|root)\b", code):
            return f"entrypoint `{path}` checks whether it runs as root (line {number})", None
        if re.search(r"(?:^|\s)(exec\s+)?/init(\s|$)", code):
            return f"entrypoint `{path}` starts s6-overlay's `/init` (line {number})", None
    if depth < MAX_SCRIPT_DEPTH:
        for line in text.splitlines():
            code = _code(line)
            for match in _RUNS_SCRIPT.finditer(code):
                inner = copied_source(stage, match.group("path"))
                if inner:
                    reason, unread = _scan_script(stage, inner, repository, contexts, read, depth + 1)
                    if reason or unread:
                        return reason, unread
    return None, None


_SCRIPT_NAME = re.compile(r"(\.(sh|bash|ash)$|entrypoint|^start|^run|^init|^boot|^launch|docker-)", re.I)


def looks_like_script(path: str) -> bool:
    return bool(_SCRIPT_NAME.search(posixpath.basename(path.rstrip("/"))))


def _code(line: str) -> str:
    """The line without its comment (a `#` at the start or after a blank), roughly: scripts are not parsed."""
    stripped = line.strip()
    if stripped.startswith("#"):
        return ""
    return re.sub(r"(^|\s)#.*$", "", stripped)


def contexts_for(path: str, extra: tuple[str, ...] = ()) -> tuple[str, ...]:
    """The build contexts to look in for a Dockerfile at `path`: those builds name, its folder, the root."""
    folder = posixpath.dirname(normalise(path))
    ordered = [*extra, folder, ""]
    return tuple(dict.fromkeys(ordered))
