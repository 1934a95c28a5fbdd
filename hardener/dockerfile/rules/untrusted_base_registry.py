from __future__ import annotations

from hardener.dockerfile.bases import external_bases
from hardener.model import Severity
from hardener.rules.base import Rule


class UntrustedBaseRegistry(Rule):
    id = "HD111"
    name = "untrusted-base-registry"
    kind = "dockerfile"
    summary = "Base images should come from a trusted registry (when `trusted-registries` is set)"
    severity = Severity.WARNING
    rationale = (
        "Organisations often allow base images only from registries they mirror and scan. This rule runs "
        'only when `trusted-registries` is configured, for example ["docker.io/library", "ghcr.io/acme", '
        '"*.gcr.io"].'
    )
    references = ("hadolint DL3026", "CIS Docker Benchmark v1.6 4.2")
    hadolint = ("DL3026",)
    requires_setting = "trusted_registries"
    # Examples run with every rule's default settings, where this rule is off; see tests/test_cli.py.

    def check(self, document, context):
        trusted = context.config.trusted_registries
        if not trusted:
            return
        for instr, ref in external_bases(document):
            if not any(ref.in_registry(entry) for entry in trusted):
                yield self.finding(
                    instr.start_line,
                    f"base image `{ref.text}` is not from a trusted registry ({', '.join(trusted)})",
                )
