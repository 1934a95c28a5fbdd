from __future__ import annotations

import re

from hardener.dockerfile.edits import insert_after_word
from hardener.dockerfile.packages import package_commands
from hardener.model import Severity, Tier
from hardener.rules.base import Example, Rule

# Subcommands that ask for confirmation unless told not to.
_PROMPTING = {
    "apt": {
        "install",
        "upgrade",
        "dist-upgrade",
        "full-upgrade",
        "remove",
        "purge",
        "autoremove",
        "build-dep",
        "reinstall",
    },
    "yum": {
        "install",
        "update",
        "upgrade",
        "remove",
        "erase",
        "groupinstall",
        "reinstall",
        "downgrade",
        "autoremove",
        "localinstall",
    },
    "zypper": {"install", "in", "remove", "rm", "update", "up", "patch", "dist-upgrade", "dup"},
}
_PROMPTING["dnf"] = _PROMPTING["yum"]


def answers_yes(cmd) -> bool:
    if cmd.manager == "apt":
        return (
            cmd.has_option("-y", "--yes", "--assume-yes", "--force-yes", short="y")
            or apt_quiet_level(cmd) >= 2  # apt-get(8): quiet level 2 implies -y
            or any("Assume-Yes" in w.text for w in cmd.options)
        )
    if cmd.manager == "zypper":
        return cmd.has_option("-y", "--no-confirm", "-n", "--non-interactive", short="y") or cmd.has_option(short="n")
    return cmd.has_option("-y", "--assumeyes", short="y") or any(
        re.fullmatch(r"--setopt=assumeyes=(1|true|yes|on)", w.text, re.IGNORECASE) for w in cmd.options
    )


def apt_quiet_level(cmd) -> int:
    """The quiet level apt's options set, read in order: each q adds one, -q=N, -q N and -o quiet=N set N."""
    level = 0
    words = [w.text for w in cmd.options]
    for i, text in enumerate(words):
        following = words[i + 1] if i + 1 < len(words) else ""
        if text in ("-q", "--quiet") and following.isdigit():
            level = int(following)
        elif m := re.fullmatch(r"(?:-q|--quiet|(?:-o|--option=)?quiet)=(\d+)", text, re.IGNORECASE):
            level = int(m[1])
        elif text == "--quiet":
            level += 1
        elif re.fullmatch(r"-[A-Za-z]+", text):
            level += text.count("q")
    return level


class PackageInstallPrompts(Rule):
    id = "HD103"
    name = "package-install-prompts"
    kind = "dockerfile"
    summary = "Add -y so package installs never wait for a confirmation"
    severity = Severity.WARNING
    tier = Tier.SAFE
    rationale = (
        "Without -y, apt-get, yum, dnf and zypper ask for confirmation. A build has no terminal, so the "
        "question is answered with end-of-file and the install aborts, or the build hangs."
    )
    references = ("hadolint DL3014", "hadolint DL3030", "hadolint DL3034", "hadolint DL3038", "Trivy DS-0021")
    hadolint = ("DL3014", "DL3030", "DL3034", "DL3038")
    valid = (
        "FROM debian:12\nRUN apt-get update && apt-get install -y curl && rm -rf /var/lib/apt/lists/*\n",
        "FROM debian:12\nRUN apt-get update && apt-get -qq install curl && rm -rf /var/lib/apt/lists/*\n",
        "FROM fedora:40\nRUN dnf -y install git && dnf clean all\n",
        # apt-get(8): quiet level 2 implies -y, however it is set.
        "FROM debian:12\nRUN apt-get update && apt-get -q=2 install curl && rm -rf /var/lib/apt/lists/*\n",
        "FROM debian:12\nRUN apt-get update && apt-get --quiet --quiet install curl && rm -rf /var/lib/apt/lists/*\n",
        "FROM debian:12\nRUN apt-get update && apt-get -o quiet=2 install curl && rm -rf /var/lib/apt/lists/*\n",
        "FROM fedora:40\nRUN dnf --setopt=assumeyes=True install git && dnf clean all\n",
    )
    invalid = (
        Example(
            "FROM debian:12\nRUN apt-get update && apt-get install --no-install-recommends curl "
            "&& rm -rf /var/lib/apt/lists/*\n",
            "FROM debian:12\nRUN apt-get update && apt-get install -y --no-install-recommends curl "
            "&& rm -rf /var/lib/apt/lists/*\n",
        ),
        Example(
            "FROM rockylinux:9\nRUN yum install httpd && yum clean all\n",
            "FROM rockylinux:9\nRUN yum install -y httpd && yum clean all\n",
        ),
        Example(
            "FROM debian:12\nRUN apt-get update && apt-get -q=1 install curl && rm -rf /var/lib/apt/lists/*\n",
            "FROM debian:12\nRUN apt-get update && apt-get -q=1 install -y curl && rm -rf /var/lib/apt/lists/*\n",
        ),
        Example(
            "FROM debian:12\nRUN sudo -n apt-get install curl && doas -u root dnf5 install git\n",
            "FROM debian:12\nRUN sudo -n apt-get install -y curl && doas -u root dnf5 install -y git\n",
        ),
    )

    def check(self, document, context):
        for instr in document.instructions:
            if instr.script is None:
                continue
            prompting = [
                c
                for c in package_commands(instr.script)
                if c.action in _PROMPTING.get(c.manager, ()) and not answers_yes(c)
            ]
            if not prompting:
                continue
            # One finding per RUN, so one round fixes every command in it.
            edits = [insert_after_word(instr, c.subcommand, " -y") for c in prompting]
            named = ", ".join(dict.fromkeys(f"`{c.program} {c.action}`" for c in prompting))
            yield self.finding(
                instr.start_line,
                f"{named} without -y waits for a confirmation a build cannot give",
                end_line=instr.end_line,
                edits=edits if all(edits) else None,
                description=f"added -y to {named}",
                fix_unavailable=None if all(edits) else "a command is split across lines mid-word",
                scope=(instr.start, instr.end),
            )
