from __future__ import annotations

from hardener.dockerfile.edits import can_extend, merge_runs, non_posix_shell
from hardener.dockerfile.packages import package_commands
from hardener.model import Severity, Tier
from hardener.rules.base import Example, Rule


class PackageUpdateInOwnLayer(Rule):
    id = "HD102"
    name = "package-update-in-own-layer"
    kind = "dockerfile"
    summary = "Merge the package index update into the RUN that installs"
    severity = Severity.WARNING
    tier = Tier.SAFE
    rationale = (
        "A RUN that only refreshes the package index is cached as its own layer. Later builds reuse that "
        "stale index while the install RUN changes, so installs fail on vanished package versions or "
        "silently miss security updates. Updating and installing in one RUN keeps them in step."
    )
    references = ("hadolint DL3059", "CIS Docker Benchmark v1.6 4.7", "Checkov CKV_DOCKER_5", "Trivy DS-0017")
    valid = (
        "FROM debian:12\nRUN apt-get update && apt-get install -y curl\n",
        "FROM alpine:3.20\nRUN apk add --no-cache curl\n",
    )
    invalid = (
        Example(
            "FROM debian:12\nRUN apt-get update\nRUN apt-get install -y curl\n",
            "FROM debian:12\nRUN apt-get update && \\\n    apt-get install -y curl\n",
        ),
        Example(
            "FROM ubuntu:24.04\nRUN apt-get update\nRUN apt-get upgrade -y\n\nRUN apt-get install -y \\\n"
            "    curl \\\n && echo done\n",
            "FROM ubuntu:24.04\nRUN apt-get update \\\n && apt-get upgrade -y \\\n && apt-get install -y \\\n"
            "    curl \\\n && echo done\n",
        ),
        Example(
            "FROM debian:12\nRUN apt-get update\n# install tools\nRUN apt-get install -y curl && rm -rf /var/lib/apt/lists/*\n",
            None,
        ),
        Example("FROM debian:12\nRUN apt-get update\nRUN --network=none apt-get install -y curl\n", None),
    )

    def check(self, document, context):
        for stage in document.stages:
            runs = stage.instructions
            for position, instr in enumerate(runs):
                script = instr.script
                if script is None:
                    continue
                commands = package_commands(script)
                for updating in (c for c in commands if c.updates_index):
                    if any(c.adds_packages and c.manager == updating.manager for c in commands):
                        continue
                    # Only a problem when a later RUN installs with the index this layer caches.
                    if not any(
                        c.manager == updating.manager and c.installs
                        for later in runs[position + 1 :]
                        if later.script is not None
                        for c in package_commands(later.script)
                    ):
                        continue
                    following = runs[position + 1] if position + 1 < len(runs) else None
                    edit, reason = self._merge(document, instr, following, updating.manager)
                    scope = (instr.start, following.end) if edit else None
                    yield self.finding(
                        instr.start_line,
                        f"`{updating.program} {updating.action}` runs in a RUN of its own; its cached layer "
                        "goes stale for the RUN that installs",
                        end_line=instr.end_line,
                        edits=[edit] if edit else None,
                        description="merged the index update into the following install RUN",
                        fix_unavailable=reason,
                        scope=scope,
                    )
                    break

    def _merge(self, document, first, second, manager):
        if second is None or second.keyword != "RUN":
            return None, "no RUN that installs packages follows it"
        if not second.is_shell_form:
            return None, "the following RUN is in exec or heredoc form"
        shell = non_posix_shell(second)
        if shell:
            return None, f"SHELL runs these RUNs with `{shell}`, which may not read `&&` as sh does"
        if second.flags != first.flags:
            return None, "the following RUN has different flags (--mount, --network)"
        if not any(c.manager == manager for c in package_commands(second.script)):
            return None, "the following RUN does not use the same package manager"
        for ln in range(first.end_line + 1, second.start_line):
            if document.index.line_text(ln).strip():
                return None, "a comment separates it from the following RUN"
        if not (first.script.is_and_list and second.script.is_and_list and can_extend(first.script)):
            return None, "the commands are not a plain && chain, so joining them could change what fails"
        edit = merge_runs(document, first, second)
        return (edit, None) if edit else (None, "the RUN is laid out in a way that cannot be joined cleanly")
