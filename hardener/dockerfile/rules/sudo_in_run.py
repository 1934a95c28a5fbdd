from __future__ import annotations

from hardener.dockerfile.shell import PRIVILEGE_WRAPPERS
from hardener.model import Severity
from hardener.rules.base import Example, Rule


class SudoInRun(Rule):
    id = "HD108"
    name = "sudo-in-run"
    kind = "dockerfile"
    summary = "Do not use sudo in RUN"
    severity = Severity.WARNING
    rationale = (
        "sudo in an image means a user who can become root at run time, and its TTY and signal handling "
        "behave unpredictably in containers. Run build steps as root before the USER instruction, and use "
        "gosu or su-exec if an entrypoint must step down."
    )
    references = ("hadolint DL3004", "Checkov CKV2_DOCKER_1", "Trivy DS-0010")
    hadolint = ("DL3004",)
    valid = ("FROM debian:12\nRUN echo sudo is only a word here\n",)
    invalid = (
        Example("FROM debian:12\nRUN sudo apt-get update && sudo apt-get install -y curl\n"),
        Example("FROM alpine:3.20\nRUN DEBUG=1 /usr/bin/doas apk add --no-cache curl\n"),
    )

    def check(self, document, context):
        for instr in document.instructions:
            if instr.script is None:
                continue
            used = next((w for c in instr.script.commands for w in c.wrappers if w in PRIVILEGE_WRAPPERS), None)
            if used:
                yield self.finding(instr.start_line, f"RUN uses {used}")
