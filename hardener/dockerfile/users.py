"""Who a stage runs as, and which users its RUN instructions create."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from hardener.dockerfile.packages import package_commands

if TYPE_CHECKING:
    from hardener.dockerfile.document import Instruction
from hardener.dockerfile.shell import PRIVILEGE_WRAPPERS, parse_shell

# Options of useradd/adduser (shadow, Debian and busybox) that take a value.
_USER_OPTION_VALUES = {
    "-b",
    "-c",
    "-d",
    "-e",
    "-f",
    "-g",
    "-G",
    "-k",
    "-K",
    "-p",
    "-R",
    "-P",
    "-s",
    "-u",
    "-Z",
    "-h",
    "--base-dir",
    "--comment",
    "--home-dir",
    "--home",
    "--expiredate",
    "--inactive",
    "--gid",
    "--groups",
    "--skel",
    "--key",
    "--password",
    "--root",
    "--prefix",
    "--shell",
    "--uid",
    "--selinux-user",
    "--ingroup",
    "--gecos",
    "--firstuid",
    "--lastuid",
    "--conf",
    "--firstgid",
    "--lastgid",
}


def is_root(user: str) -> bool:
    return user.split(":", 1)[0].strip() in ("root", "0")


SHELLS = frozenset({"sh", "bash", "ash", "dash", "zsh", "ksh", "busybox"})


def scripts_of(instr):
    """Shell scripts a RUN executes: its command, or the heredoc bodies it runs as scripts.

    `RUN <<EOF` and `RUN bash <<EOF` run the body; `RUN cat > f <<EOF` only writes it.
    """
    if instr.keyword != "RUN":
        return []
    if instr.script is not None:
        return [instr.script]
    if not instr.heredocs:
        return []
    head = instr.args.lstrip()
    if not head.startswith("<<"):
        first = parse_shell(head.split("<<", 1)[0]).commands
        if not first or first[0].program not in SHELLS:
            return []
    return [parse_shell(h.content.replace("\r\n", "\n")) for h in instr.heredocs]


def trigger_script(instr):
    """The shell command of `ONBUILD RUN <command>` (shell form), which runs in every build on this image.

    Its offsets are those of the ONBUILD's own arguments, so edits made from it land in the file."""
    import re

    if instr.keyword != "ONBUILD" or instr.heredocs:
        return None
    match = re.match(r"RUN[ \t]+", instr.args, re.IGNORECASE)
    rest = instr.args[match.end() :] if match else ""
    if not match or rest.lstrip().startswith("[") or rest.lstrip().startswith("--"):
        return None  # exec form or flags: not read
    return parse_shell(" " * match.end() + rest)  # padded: positions stay those of the arguments


def last_user_instruction(stage):
    return next((i for i in reversed(stage.instructions) if i.keyword == "USER" and i.value), None)


def inherited_user(stage) -> tuple[str | None, object]:
    """The user the stage ends with and the instruction that set it.

    Returns (None, None) when no USER is set in the stage or the stages it builds on.
    """
    for s in stage.lineage:
        instr = last_user_instruction(s)
        if instr is not None:
            return instr.value[0], instr
    return None, None


def user_at(instr) -> str | None:
    """The user a USER instruction set for this instruction, or None when the base image decides."""
    stage = instr.stage
    for s in stage.lineage:
        earlier = [i for i in _user_instructions(s) if s is not stage or i.index < instr.index]
        if earlier:
            return earlier[-1].value[0]
    return None


def _user_instructions(stage) -> list:
    """A stage's USER instructions (found once per stage: each RUN with a finding may ask)."""
    found = getattr(stage, "_user_instructions", None)
    if found is None:
        found = stage._user_instructions = [i for i in stage.instructions if i.keyword == "USER" and i.value]
    return found


def privilege_wrapper(stage) -> str | None:
    """sudo or doas, when a RUN of the stage or the stages it builds on runs a command through it."""
    for s in stage.lineage:
        for instr in s.instructions:
            for script in scripts_of(instr):
                for command in script.commands:
                    found = next((w for w in command.wrappers if w in PRIVILEGE_WRAPPERS), None)
                    if found:
                        return found
    return None


def earlier_non_root_user(stage) -> str | None:
    """A non-root user a USER instruction in the lineage already switched to."""
    for s in stage.lineage:
        for instr in reversed(s.instructions):
            if instr.keyword == "USER" and instr.value and not is_root(instr.value[0]) and "$" not in instr.value[0]:
                return instr.value[0]
    return None


def created_user(stage) -> str | None:
    """The last user created with useradd/adduser in the lineage (and not deleted since), by name."""
    deleted = deleted_users(stage)
    for s in stage.lineage:
        for instr in reversed(s.instructions):
            for script in reversed(scripts_of(instr)):
                for command in reversed(script.commands):
                    name = _user_created_by(command)
                    if name and name not in deleted:
                        return name
    return None


def deleted_users(stage) -> set[str]:
    """Users removed with userdel/deluser in the lineage."""
    names = set()
    for s in stage.lineage:
        for instr in s.instructions:
            for script in scripts_of(instr):
                for command in script.commands:
                    if command.program in ("userdel", "deluser"):
                        operands = [w.text for w in command.arguments() if not w.text.startswith("-")]
                        names.update(operands[:1])
    return names


def _user_created_by(command) -> str | None:
    program = command.program
    if program not in ("useradd", "adduser"):
        return None
    operands = []
    args = command.arguments()
    if any(w.text.split("=", 1)[0] in _OTHER_ROOT for w in args):
        return None  # the user is created in another root file system, not this image's
    i = 0
    while i < len(args):
        text = args[i].text
        if text.startswith("-"):
            if text in _USER_OPTION_VALUES:
                i += 1
        else:
            operands.append(text)
        i += 1
    if not operands:
        return None
    name = operands[-1] if program == "useradd" else operands[0]
    if "$" in name or not name.replace("-", "").replace("_", "").replace(".", "").isalnum():
        return None
    return name


def package_family(stage) -> str | None:
    """The user tools a stage can rely on, judged by the package manager it uses."""
    for s in stage.lineage:
        for instr in s.instructions:
            for script in scripts_of(instr):
                for cmd in package_commands(script):
                    if cmd.manager == "apt":
                        return "debian"
                    if cmd.manager == "apk":
                        return "alpine"
                    if cmd.manager in ("yum", "dnf"):
                        return "rhel"
    return None


# useradd options that create the user somewhere else than the image's own /etc/passwd.
_OTHER_ROOT = frozenset({"-R", "--root", "-P", "--prefix"})
# Tokens (program or package names) that mean the container needs root at run time.
_NEEDS_ROOT = (
    (("gosu", "su-exec", "setpriv", "chpst", "s6-setuidgid"), "the image steps down from root itself ({})"),
    (
        ("supervisor", "supervisord", "s6-overlay", "s6-svscan", "runsvdir", "runit", "systemd", "/sbin/init", "/init"),
        "it runs a process supervisor ({}) that starts its services as root",
    ),
    (("cron", "crond", "cronie", "dcron", "busybox-openrc"), "it runs cron ({}), which needs root"),
    (
        ("iptables", "ip6tables", "nftables", "nft", "ipset", "iptables-legacy"),
        "it manages firewall rules ({}), which needs root",
    ),
    (("openssh-server", "sshd", "dropbear"), "it runs an SSH server ({}), which needs root"),
)
_TOKEN = re.compile(r"[A-Za-z0-9_./+-]+")
_NO_LOGIN_SHELLS = ("/usr/sbin/nologin", "/sbin/nologin", "/bin/false", "/usr/bin/false")


def needs_root_reason(stage) -> str | None:
    """Why the container must start as root, judged from the Dockerfile, or None."""
    tokens: set[str] = set()
    for s in stage.lineage:
        for instr in s.instructions:
            if instr.keyword in ("RUN", "ENTRYPOINT", "CMD"):
                text = " ".join(instr.value) + "".join(h.content for h in instr.heredocs)
                for token in _TOKEN.findall(text):
                    tokens.add(token)
                    tokens.add(token.rsplit("/", 1)[-1])
    for names, reason in _NEEDS_ROOT:
        hit = next((n for n in names if n in tokens), None)
        if hit:
            return reason.format(hit)
    command = [w for i in stage.instructions if i.keyword in ("ENTRYPOINT", "CMD") for w in _command_words(i)]
    if any(w in ("-u", "--user", "-user") or w.startswith("--user=") for w in command):
        return "its command switches user itself (-u/--user)"
    return None


def service_account(stage, name: str) -> bool:
    """A created user with no login shell: a daemon's account, used by the daemon itself."""
    for s in stage.lineage:
        for instr in s.instructions:
            for script in scripts_of(instr):
                for command in script.commands:
                    if _user_created_by(command) == name:
                        words = [w.text for w in command.arguments()]
                        if any(sh in words or any(w.endswith("=" + sh) for w in words) for sh in _NO_LOGIN_SHELLS):
                            return True
    return False


def _command_words(instr) -> list[str]:
    if instr.is_json:
        return list(instr.value)
    return instr.args.split()


def chowned_user(stage) -> str | None:
    """A non-root user the stage already hands files to (`chown -R node ...`, `COPY --chown=node`), by name."""
    for s in stage.lineage:
        for instr in reversed(s.instructions):
            for owner in instr.flag("chown") if instr.keyword in ("COPY", "ADD") else ():
                name = owner.split(":", 1)[0]
                if name and not is_root(name) and "$" not in name:
                    return name
            for script in reversed(scripts_of(instr)):
                for command in reversed(script.commands):
                    if command.program != "chown":
                        continue
                    words = [w.text for w in command.arguments() if not w.text.startswith("-")]
                    if words:
                        name = words[0].split(":", 1)[0].split(".", 1)[0]
                        if name and not is_root(name) and "$" not in name:
                            return name
    return None


_DATA_VARIABLE = re.compile(r"(DATA|STORAGE|UPLOAD|MEDIA|STATE|VAR)[A-Z_]*_(DIR|PATH|ROOT|HOME)$|^DATA_?(DIR|PATH)$")


def data_paths(stage) -> list[tuple[str, Instruction]]:
    """(path, instruction) for the folders the stage keeps data in: VOLUME, and ENV such as DATA_DIR."""
    found: list[tuple[str, Instruction]] = []
    for s in stage.lineage:
        for instr in s.instructions:
            if instr.keyword == "VOLUME":
                found += [(v, instr) for v in instr.value if v.startswith("/")]
            elif instr.keyword == "ENV":
                for name, value in _env_pairs(instr):
                    if _DATA_VARIABLE.search(name.upper()) and value.startswith("/") and "$" not in value:
                        found.append((value, instr))
    return found


def _env_pairs(instr) -> list[tuple[str, str]]:
    values = list(instr.value)
    if len(values) == 2 and "=" not in values[0]:
        return [(values[0], values[1])]  # ENV NAME value
    return [(v.split("=", 1)[0], v.split("=", 1)[1]) for v in values if "=" in v]


def owns(stage, path: str, user: str) -> bool:
    """A RUN or COPY of the stage hands `path` (or a folder above it, recursively) to `user`."""
    names = {user, user.split(":", 1)[0]}
    for s in stage.lineage:
        for instr in s.instructions:
            if instr.keyword in ("COPY", "ADD") and instr.value:
                owner = next(iter(instr.flag("chown")), "").split(":", 1)[0]
                if owner in names and instr.value[-1].rstrip("/") == path.rstrip("/"):
                    return True
            for script in scripts_of(instr):
                for command in script.commands:
                    if command.program not in ("chown", "install"):
                        continue
                    words = [w.text for w in command.arguments()]
                    recursive = any(w in ("-R", "--recursive") or (w.startswith("-") and "R" in w) for w in words)
                    if not any(w.split(":", 1)[0].split(".", 1)[0] in names or f"-o{w}" in names for w in words):
                        if not (command.program == "install" and any(w in names for w in words)):
                            continue
                    for w in words:
                        w = w.rstrip("/")
                        if w == path.rstrip("/") or (recursive and path.startswith(w + "/")):
                            return True
    return False
