from __future__ import annotations

import re

from hardener.model import Severity
from hardener.rules.base import Example, Rule

_NOPASSWD = re.compile(r"\bNOPASSWD\s*:", re.IGNORECASE)


class PasswordlessSudo(Rule):
    id = "HD115"
    name = "passwordless-sudo"
    kind = "dockerfile"
    summary = "Do not give the container's user passwordless sudo"
    severity = Severity.ERROR
    rationale = (
        "A sudoers rule with `NOPASSWD` makes the non-root user root again: anyone who gets a shell as that "
        "user becomes root without a password, which undoes the reason for running as non-root. Install "
        "what needs root at build time, before `USER`, and run the service without sudo. hardener reports "
        "this only: the tasks that needed sudo have to move into the build."
    )
    references = ("hadolint DL3004", "CIS Docker Benchmark v1.6 4.1", "Checkov CKV2_DOCKER_1")
    valid = (
        "FROM debian:12\nRUN apt-get update && apt-get install -y --no-install-recommends sudo\n",
        "FROM debian:12\nRUN echo 'app ALL=(ALL) ALL' > /etc/sudoers.d/app\n",
    )
    invalid = (
        Example("FROM debian:12\nRUN echo 'app ALL=(ALL) NOPASSWD:ALL' >> /etc/sudoers\n"),
        Example('FROM ubuntu:24.04\nRUN echo "%sudo ALL=(ALL:ALL) NOPASSWD: ALL" > /etc/sudoers.d/nopasswd\n'),
        Example("FROM debian:12\nCOPY <<EOF /etc/sudoers.d/dev\ndev ALL=(root) NOPASSWD: /usr/bin/apt-get\nEOF\n"),
        Example("FROM debian:12\nRUN <<EOF\nuseradd dev\necho 'dev ALL=(ALL) NOPASSWD:ALL' >> /etc/sudoers\nEOF\n"),
    )

    def check(self, document, context):
        for instr in document.instructions:
            if instr.keyword not in ("RUN", "COPY", "ADD"):
                continue
            text = (instr.args if instr.keyword == "RUN" else "") + "".join(h.content for h in instr.heredocs)
            if _NOPASSWD.search(text):
                yield self.finding(
                    instr.start_line,
                    f"{instr.keyword} grants passwordless sudo (NOPASSWD)",
                    end_line=instr.end_line,
                )
