from __future__ import annotations

from hardener.model import Severity
from hardener.rules.base import Example, Rule


class MissingHealthcheck(Rule):
    id = "HD109"
    name = "missing-healthcheck"
    kind = "dockerfile"
    summary = "The final image should declare a HEALTHCHECK"
    severity = Severity.INFO
    rationale = (
        "Without a HEALTHCHECK, Docker and Compose only know whether the process runs, not whether it "
        "serves. The right probe depends on the application, so hardener reports this and leaves the "
        "command to you (or to your orchestrator's own probes)."
    )
    references = ("hadolint DL3057", "CIS Docker Benchmark v1.6 4.6", "Checkov CKV_DOCKER_2", "Trivy DS-0026")
    hadolint = ("DL3057",)
    valid = (
        "FROM nginx:1.27\nHEALTHCHECK CMD curl -f http://localhost/ || exit 1\n",
        "FROM debian:12 AS base\nHEALTHCHECK CMD true\nFROM base\n",
    )
    invalid = (Example("FROM debian:12 AS base\nHEALTHCHECK CMD true\nFROM debian:12\n"),)

    def check(self, document, context):
        stage = document.final_stage
        if any(i.keyword == "HEALTHCHECK" for s in stage.lineage for i in s.instructions):
            return
        yield self.finding(stage.from_instruction.start_line, "the final stage declares no HEALTHCHECK")
