from __future__ import annotations

from typing import ClassVar

from hardener.dockerfile.edits import insert_after_word
from hardener.dockerfile.packages import package_commands
from hardener.dockerfile.users import scripts_of, trigger_script
from hardener.model import Severity, Tier
from hardener.rules.base import Example, Rule


def skips_recommends(command) -> bool:
    """--no-install-recommends, or the same set through -o APT::Install-Recommends=false (or 0)."""
    if command.has_option("--no-install-recommends"):
        return True
    words = [w.text for w in command.options]
    return any("install-recommends" in w.lower() and w.lower().endswith(("=false", "=0", "=no")) for w in words)


def _configured_off(stage, before) -> bool:
    """An instruction before `before`, in the stage or a stage it builds on, turns recommends off in apt's
    configuration (writes `APT::Install-Recommends "0"` to apt.conf, or copies a file into apt.conf.d)."""
    for s in stage.lineage:
        for instr in s.instructions:
            if instr is before:
                break
            text = instr.args + "".join(h.content for h in instr.heredocs)
            lowered = text.lower()
            if "apt.conf" not in lowered:
                continue  # `-o APT::Install-Recommends=false` on one command configures only that command
            if instr.keyword in ("COPY", "ADD") and not instr.heredocs:
                return True  # a file of settings, which may well be this one
            if "install-recommends" in lowered and any(v in lowered for v in ('"0"', '"false"', "false", " 0;")):
                return True
    return False


class AptInstallRecommends(Rule):
    id = "HD117"
    name = "apt-install-recommends"
    kind = "dockerfile"
    summary = "Install apt packages with --no-install-recommends"
    severity = Severity.INFO
    tier = Tier.BEHAVIOUR_CHANGING
    rationale = (
        "apt installs a package's recommended packages too, unless told otherwise: often tens of megabytes "
        "of documentation tools, X libraries or daemons nobody asked for, each a larger image and more to "
        "patch. The fix adds `--no-install-recommends` to each `apt-get install` (and `apt install`) that "
        "does not have it or turn recommends off in apt's configuration. Test that what you installed still "
        "works: a package may rely on a recommended one (for example `ca-certificates` beside `curl` for "
        "HTTPS), which then has to be named."
    )
    references = ("hadolint DL3015", "CIS Docker Benchmark v1.6 4.3")
    hadolint = ("DL3015",)
    valid: ClassVar[tuple[str, ...]] = (
        "FROM debian:12\nRUN apt-get update && apt-get install -y --no-install-recommends curl\n",
        "FROM debian:12\nRUN apt-get -o APT::Install-Recommends=false install -y curl\n",
        "FROM debian:12\nRUN echo 'APT::Install-Recommends \"0\";' > /etc/apt/apt.conf.d/01norecommends\n"
        "RUN apt-get update && apt-get install -y curl\n",
        "FROM debian:12\nRUN apt-get update && apt-get upgrade -y\n",
        "FROM alpine:3.20\nRUN apk add --no-cache curl\n",
    )
    invalid = (
        Example(
            "FROM debian:12\nRUN apt-get update && apt-get install -y python3\n",
            "FROM debian:12\nRUN apt-get update && apt-get install --no-install-recommends -y python3\n",
        ),
        Example(
            "FROM ubuntu:24.04\nRUN apt-get -y install curl && apt install -y git\n",
            "FROM ubuntu:24.04\nRUN apt-get -y install --no-install-recommends curl && apt install "
            "--no-install-recommends -y git\n",
        ),
        Example(
            "FROM debian:12\nRUN apt-get update \\\n && apt-get install -y \\\n      curl \\\n      wget\n",
            "FROM debian:12\nRUN apt-get update \\\n && apt-get install --no-install-recommends -y \\\n      curl \\\n"
            "      wget\n",
        ),
        Example(
            "FROM debian:12\nRUN <<EOF\napt-get update\napt-get install -y build-essential\nEOF\n",
            None,
            reason="in a heredoc",
        ),
        # The option on one command configures that command only, not the ones after it.
        Example(
            "FROM debian:12\nRUN apt-get -o APT::Install-Recommends=false install -y curl\nRUN apt-get install -y git\n",
            "FROM debian:12\nRUN apt-get -o APT::Install-Recommends=false install -y curl\n"
            "RUN apt-get install --no-install-recommends -y git\n",
        ),
        # hadolint's own DL3015 cases.
        Example(
            "FROM debian:12\nRUN apt-get install python\n",
            "FROM debian:12\nRUN apt-get install --no-install-recommends python\n",
        ),
        Example(
            "FROM debian:12\nRUN apt-get -y install python\n",
            "FROM debian:12\nRUN apt-get -y install --no-install-recommends python\n",
        ),
        Example(
            "FROM debian:12\nONBUILD RUN apt-get -y install python\n",
            "FROM debian:12\nONBUILD RUN apt-get -y install --no-install-recommends python\n",
        ),
    )
    # hadolint's own DL3015 cases that must pass.
    valid += (
        "FROM debian:12\nRUN apt-get install --no-install-recommends python\n",
        "FROM debian:12\nONBUILD RUN apt-get install --no-install-recommends python\n",
        "FROM debian:12\nRUN apt-get -o APT::Install-Recommends=false install python\n",
        "FROM debian:12\nONBUILD RUN apt-get -o APT::Install-Recommends=false install python\n",
    )

    def check(self, document, context):
        for instr in document.instructions:
            trigger = trigger_script(instr)  # ONBUILD RUN: it runs in the builds on this image
            if instr.keyword != "RUN" and trigger is None:
                continue
            commands = [
                c
                for script in ([trigger] if trigger is not None else scripts_of(instr))
                for c in package_commands(script)
                if c.manager == "apt" and c.action in ("install", "build-dep", "reinstall") and not skips_recommends(c)
            ]
            if not commands or (instr.stage is not None and _configured_off(instr.stage, instr)):
                continue
            # Heredoc bodies are never edited (the verification would refuse it): reported only.
            in_heredoc = instr.script is None and trigger is None
            edits = (
                []
                if in_heredoc
                else [insert_after_word(instr, c.subcommand, " --no-install-recommends") for c in commands]
            )
            named = ", ".join(dict.fromkeys(f"`{c.program} {c.action}`" for c in commands))
            yield self.finding(
                instr.start_line,
                f"{named} installs recommended packages too",
                end_line=instr.end_line,
                edits=edits if edits and all(edits) else None,
                description=f"added --no-install-recommends to {named}",
                fix_unavailable=(
                    "the command is in a heredoc, which hardener does not edit"
                    if in_heredoc
                    else None
                    if all(edits)
                    else "a command is split across lines mid-word"
                ),
                scope=(instr.start, instr.end),
            )
