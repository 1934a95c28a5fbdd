from __future__ import annotations

from typing import ClassVar

from hardener.dockerfile.packages import package_commands
from hardener.dockerfile.users import scripts_of, trigger_script
from hardener.model import Severity
from hardener.rules.base import Example, Rule


def unpinned_packages(command) -> list[str]:
    """The packages an apt install names without `=version` (nor a local .deb, a path or a variable)."""
    out = []
    for word in command.operands:
        name = word.text
        if "=" in name or "$" in name or name.endswith(".deb") or name.startswith(("/", "./", "-")):
            continue
        out.append(name)
    return out


class AptVersionsNotPinned(Rule):
    id = "HD116"
    name = "apt-versions-not-pinned"
    kind = "dockerfile"
    summary = "Pin the versions apt-get installs"
    severity = Severity.INFO
    rationale = (
        "`apt-get install curl` takes whatever version the index holds on the day of the build, so two "
        "builds of one Dockerfile differ and a rebuild can pull in a breaking or vulnerable release. "
        "`curl=7.88.1-10+deb12u8` makes the build repeatable, at the cost of updating the pins when the "
        "distribution drops a version (then the build fails, loudly). hardener reports this only, and only "
        'when selected (`select = ["HD116"]`): the versions to pin are a choice (`apt-cache policy '
        "<package>` shows them)."
    )
    references = ("hadolint DL3008",)
    hadolint = ("DL3008",)
    # Off unless selected (`select = ["HD116"]`): pins break builds when the mirror drops a version, and
    # hadolint's DL3008 is among the rules most often ignored.
    opt_in = True
    valid: ClassVar[tuple[str, ...]] = (
        "FROM debian:12\nRUN apt-get update && apt-get install -y --no-install-recommends curl=7.88.1-10+deb12u8\n",
        "FROM debian:12\nRUN apt-get install -y ./vendor/tool_1.0_amd64.deb\n",
        "FROM debian:12\nRUN apt-get update && apt-get upgrade -y\n",
        "FROM debian:12\nRUN apt-get install -y $PACKAGES\n",
    )
    invalid = (
        Example("FROM debian:12\nRUN apt-get update && apt-get install -y --no-install-recommends curl\n"),
        Example("FROM debian:12\nRUN apt-get install -y python3=3.11.2-1+b1 python3-pip\n"),
        Example("FROM ubuntu:24.04\nRUN apt install -y git\n"),
        Example("FROM debian:12\nRUN sudo apt-get -y install ca-certificates\n"),
        # hadolint's own DL3008 cases.
        Example("FROM debian:12\nRUN apt-get update && apt-get install python\n"),
        Example("FROM debian:12\nONBUILD RUN apt-get update && apt-get install python\n"),
    )
    # hadolint's own DL3008 cases that must pass.
    valid += (
        "FROM debian:12\nRUN apt-get update \\\n && apt-get -yqq --no-install-recommends install nodejs=0.10 \\\n"
        " && rm -rf /var/lib/apt/lists/*\n",
        "FROM debian:12\nRUN apt-get update && apt-get install --no-install-recommends -y \\\npython-demjson=2.2.2* \\\n"
        "wget=1.16.1* \\\ngit=1:2.5.0* \\\nruby=1:2.1.*\n",
        "FROM debian:12\nRUN apt-get install -y python=1.2.2\n",
        "FROM debian:12\nONBUILD RUN apt-get install -y python=1.2.2\n",
        "FROM debian:12\nRUN apt-get install ./wkhtmltox_0.12.5-1.bionic_amd64.deb\n",
        "FROM debian:12\nRUN apt-get -y --no-install-recommends install nodejs=0.10\n",
        'FROM debian:12\nRUN set -e &&\\\n echo "deb http://http.debian.net/debian jessie-backports main" '
        "> /etc/apt/sources.list.d/jessie-backports.list &&\\\n apt-get update &&\\\n"
        " apt-get install -y --no-install-recommends -t jessie-backports openjdk-8-jdk=8u131-b11-1~bpo8+1 &&\\\n"
        " rm -rf /var/lib/apt/lists/*\n",
    )

    def check(self, document, context):
        for instr in document.instructions:
            names: list[str] = []
            trigger = trigger_script(instr)
            for script in [trigger] if trigger is not None else scripts_of(instr):
                for command in package_commands(script):
                    if command.manager == "apt" and command.action == "install":
                        names += unpinned_packages(command)
            if names:
                shown = ", ".join(f"`{n}`" for n in dict.fromkeys(names[:5]))
                more = f" and {len(names) - 5} more" if len(names) > 5 else ""
                yield self.finding(
                    instr.start_line,
                    f"apt installs {shown}{more} without a pinned version",
                    end_line=instr.end_line,
                )
