from __future__ import annotations

import re

from hardener.dockerfile import users
from hardener.dockerfile.edits import append_command, insert_after_word, non_posix_shell
from hardener.dockerfile.packages import MANAGERS as MANAGER_PROGRAMS
from hardener.dockerfile.packages import package_commands
from hardener.dockerfile.shell import PRIVILEGE_WRAPPERS
from hardener.model import Severity, Tier
from hardener.rules.base import Example, Rule

# Per manager: the cache folder named in messages, and the command that empties it
# ({program} is the manager as the RUN calls it: dnf5, /usr/bin/dnf, ...).
_CACHE = {
    "apt": ("/var/lib/apt/lists", "rm -rf /var/lib/apt/lists/*"),
    "yum": ("/var/cache/yum", "{program} clean all"),
    "dnf": ("/var/cache/dnf", "{program} clean all"),
    "microdnf": ("/var/cache/yum", "{program} clean all"),
    "zypper": ("/var/cache/zypp", "{program} clean --all"),
}
_RPM_CACHES = ("/var/cache/yum", "/var/cache/dnf", "/var/cache/libdnf5")
# Every folder where a manager keeps its cache: one that a mount covers, or that the RUN
# removes itself, is taken care of. yum is dnf on RHEL 8 and later, and dnf is dnf5 on Fedora 41.
_FOLDERS = {
    "apt": ("/var/lib/apt/lists",),
    "apk": ("/var/cache/apk", "/etc/apk/cache"),
    "yum": _RPM_CACHES,
    "dnf": _RPM_CACHES,
    "microdnf": _RPM_CACHES,
    "zypper": ("/var/cache/zypp",),
}
_RPM_FAMILY = ("yum", "dnf", "microdnf")
# Mounts whose writes never reach the layer: a cache, a tmpfs, a bind mount (writes are discarded).
_NOT_KEPT_MOUNTS = ("cache", "tmpfs", "bind")


class PackageCacheLeftInLayer(Rule):
    id = "HD104"
    name = "package-cache-left-in-layer"
    kind = "dockerfile"
    summary = "Clean the package manager's cache in the RUN that fills it"
    severity = Severity.WARNING
    tier = Tier.SAFE
    rationale = (
        "Package indexes and downloaded packages left in a layer make the image larger and ship stale "
        "metadata; a later layer cannot remove them. Cleaning in the same RUN (or `apk add --no-cache`) "
        "keeps them out of the image."
    )
    references = (
        "hadolint DL3009",
        "hadolint DL3019",
        "hadolint DL3032",
        "hadolint DL3036",
        "hadolint DL3040",
        "Trivy DS-0025",
    )
    hadolint = ("DL3009", "DL3019", "DL3032", "DL3036", "DL3040")
    valid = (
        "FROM debian:12\nRUN apt-get update && apt-get install -y curl && rm -rf /var/lib/apt/lists/*\n",
        "FROM debian:12\nRUN --mount=type=cache,target=/var/lib/apt \\\n    apt-get update && apt-get install -y curl\n",
        "FROM alpine:3.20\nRUN apk add --no-cache curl\n",
        "FROM debian:12\nRUN --mount=type=tmpfs,target=/var/lib/apt/lists apt-get update && apt-get install -y curl\n",
        "FROM fedora:41\nRUN --mount=type=cache,target=/var/cache/libdnf5 dnf install -y git\n",
        "FROM fedora:41\nRUN dnf install -y git && dnf5 clean all\n",
        "FROM opensuse/leap:15.6\nRUN --mount=type=cache,target=/var/cache/zypp zypper install -y git\n",
    )
    invalid = (
        Example(
            "FROM alpine:3.20\nRUN apk add curl\n",
            "FROM alpine:3.20\nRUN apk add --no-cache curl\n",
        ),
        Example(
            "FROM fedora:40\nRUN dnf install -y git\n",
            "FROM fedora:40\nRUN dnf install -y git && dnf clean all\n",
        ),
        Example(
            "FROM debian:12\nRUN apt-get update && apt-get install -y curl\n",
            "FROM debian:12\nRUN apt-get update && apt-get install -y curl && rm -rf /var/lib/apt/lists/*\n",
        ),
        Example(
            "FROM fedora:41\nRUN dnf5 install -y git\n",
            "FROM fedora:41\nRUN dnf5 install -y git && dnf5 clean all\n",
        ),
        # sudo gave apt-get its rights; a cleanup without them would fail the build.
        Example("FROM debian:12\nUSER builder\nRUN sudo apt-get update && sudo apt-get install -y curl\n", None),
        Example(
            "FROM debian:12\nUSER root\nRUN sudo apt-get update && sudo apt-get install -y curl\n",
            "FROM debian:12\nUSER root\nRUN sudo apt-get update && sudo apt-get install -y curl "
            "&& rm -rf /var/lib/apt/lists/*\n",
        ),
        # A mount over a subfolder leaves the rest of the cache in the layer.
        Example(
            "FROM debian:12\nRUN --mount=type=cache,target=/var/lib/apt/lists/partial apt-get update\n",
            "FROM debian:12\nRUN --mount=type=cache,target=/var/lib/apt/lists/partial apt-get update "
            "&& rm -rf /var/lib/apt/lists/*\n",
        ),
        # The lists must stay: the second RUN installs from them.
        Example("FROM debian:12\nRUN apt-get update && apt-get install -y curl\nRUN apt-get install -y git\n", None),
    )

    def check(self, document, context):
        needed_by_descendants = _apt_lists_needed_by_descendants(document)
        for stage in document.stages:
            lists_needed_after = _apt_lists_needed_after(stage, needed_by_descendants[stage])
            for position, instr in enumerate(stage.instructions):
                if instr.script is None:
                    continue
                cached = _mount_targets(instr)
                for manager in dict.fromkeys(c.manager for c in package_commands(instr.script) if _fills_cache(c)):
                    yield from self._check_manager(document, instr, manager, cached, lists_needed_after[position])

    def _check_manager(self, document, instr, manager, cached, lists_needed_later):
        commands = [c for c in package_commands(instr.script) if c.manager == manager]
        if manager == "apk":
            adding = [c for c in commands if c.action == "add" and c.operands and not c.has_option("--no-cache")]
            if not adding or _covered(instr, cached, *_FOLDERS["apk"]):
                return
            edits = [insert_after_word(instr, c.subcommand, " --no-cache") for c in adding]
            yield self.finding(
                instr.start_line,
                "`apk add` without --no-cache leaves the package index in the layer",
                end_line=instr.end_line,
                edits=edits if all(edits) else None,
                description="added --no-cache to `apk add`",
                fix_unavailable=None if all(edits) else "a command is split across lines mid-word",
                scope=(instr.start, instr.end),
            )
            return
        folder, clean = _CACHE[manager]
        filling = [c for c in commands if _fills_cache(c)]
        if _covered(instr, cached, *_FOLDERS[manager]) or _cleans(instr, manager) or _runs_cleanup_script(instr):
            return
        clean = clean.format(program=_program_as_written(filling[0]))
        if filling[0].program == "dnf5":
            folder = "/var/cache/libdnf5"
        reason = None
        shell = non_posix_shell(instr)
        if shell:
            reason = f"SHELL runs this RUN with `{shell}`, which may not read an appended `&& ...` as sh does"
        elif manager == "apt" and lists_needed_later:
            reason = "a later RUN (here or in a stage built on this one) installs with apt without `apt-get update` and needs the lists"
        else:
            # sudo or doas anywhere in the RUN: its author does not expect to be root here.
            wrapper = next((w for c in instr.script.commands for w in c.wrappers if w in PRIVILEGE_WRAPPERS), None)
            user = users.user_at(instr) if wrapper else None
            if wrapper and (user is None or "$" in user or not users.is_root(user)):
                reason = (
                    f"the RUN uses {wrapper}, so it may run as a user other than root, "
                    f"and `{clean}` might lack the rights that {wrapper} gave `{filling[0].program}`"
                )
        edit = None if reason else append_command(document, instr, clean)
        if edit is None and reason is None:
            reason = "the RUN does not end in a plain command list that `&& ...` can extend"
        yield self.finding(
            instr.start_line,
            f"`{commands[0].program}` leaves its cache ({folder}) in the layer",
            end_line=instr.end_line,
            edits=[edit] if edit else None,
            description=f"appended `{clean}`",
            fix_unavailable=reason,
            scope=(instr.start, instr.end),
        )


def _apt_lists_needed_by_descendants(document) -> dict:
    """For each stage: whether a stage built on it (at any depth) installs with apt without updating.

    A stage can only build on earlier ones, so one pass from the last stage back reaches every
    descendant: linear in the number of stages, however long the chains.
    """
    needed = {stage: False for stage in document.stages}
    for stage in reversed(document.stages):
        if stage.parent is not None and stage.parent in needed:
            needed[stage.parent] = (
                needed[stage.parent]
                or needed[stage]
                or any(_installs_without_update(i) for i in stage.instructions)
            )
    return needed


def _apt_lists_needed_after(stage, needed_by_descendants: bool) -> list[bool]:
    """For each instruction of the stage: whether a later one, or one in a stage built on
    this one, installs with apt from the lists as they are (one pass, not one per RUN)."""
    needed = needed_by_descendants
    after = [False] * len(stage.instructions)
    for position in range(len(stage.instructions) - 1, -1, -1):
        after[position] = needed
        needed = needed or _installs_without_update(stage.instructions[position])
    return after


def _fills_cache(command) -> bool:
    # apt's lists come from `apt-get update`; the others fetch metadata when they install.
    return command.updates_index if command.manager == "apt" else command.installs


def _mount_targets(instr) -> list[str]:
    """Targets of the RUN's --mount flags whose writes stay out of the layer."""
    targets = []
    for spec in instr.flag("mount"):
        fields = dict(p.strip().strip("\"'").partition("=")[::2] for p in spec.split(","))
        if fields.get("type", "bind") in _NOT_KEPT_MOUNTS:
            target = fields.get("target") or fields.get("dst") or fields.get("destination")
            if target:
                targets.append(target)
    return targets


def _covered(instr, mounted, *folders) -> bool:
    """A mount over the folder (or a folder above it), or an explicit removal, takes care of it."""

    def under(folder: str, mount: str) -> bool:
        mount = mount.rstrip("/")
        return folder == mount or folder.startswith(mount + "/")

    return any(under(f, t) for t in mounted for f in folders) or any(f in instr.args for f in folders)


_CLEAN_TEXT = {
    "rpm": re.compile(r"\b(?:yum|dnf[45]?|microdnf)\b[^\n;&|]*?\bclean\b"),
    "zypper": re.compile(r"\bzypper\b[^\n;&|]*?\b(?:clean|cc)\b"),
}


def _cleans(instr, manager) -> bool:
    """The RUN already runs a clean command of the manager (any of the rpm family counts for the others).

    Judged on the text, so a clean inside if/for or a subshell counts too.
    """
    if manager == "zypper":
        return bool(_CLEAN_TEXT["zypper"].search(instr.args))
    return manager in _RPM_FAMILY and bool(_CLEAN_TEXT["rpm"].search(instr.args))


def _program_as_written(command) -> str:
    """The manager's name as the command calls it, when it is a plain word."""
    word = command.command.words[command.command.program_index]
    plain = not word.quoted and re.fullmatch(r"[A-Za-z0-9_./+-]+", word.text)
    return word.text if plain else command.program


_APT_INSTALL = re.compile(
    r"\bapt(?:-get)?\b[^\n;&|]*?\b(?:install|upgrade|dist-upgrade|full-upgrade|build-dep|reinstall|source)\b"
)
_APT_UPDATE = re.compile(r"\bapt(?:-get)?\b[^\n;&|]*?\bupdate\b")


def _installs_without_update(instr) -> bool:
    """A RUN (or ONBUILD RUN) that installs with apt and does not refresh the lists itself.

    Judged on the text, so installs inside if/for, xargs, bash -c or heredocs count too.
    """
    if instr.keyword not in ("RUN", "ONBUILD"):
        return False
    text = " ".join(instr.value) + "\n" + "".join(h.content for h in instr.heredocs)
    return bool(_APT_INSTALL.search(text)) and not _APT_UPDATE.search(text)


def _runs_cleanup_script(instr) -> bool:
    """The RUN calls a project's own cleanup helper (e.g. `apt-cleanup`): trust it."""
    return any("clean" in (c.program or "") and c.program not in MANAGER_PROGRAMS for c in instr.script.commands)
