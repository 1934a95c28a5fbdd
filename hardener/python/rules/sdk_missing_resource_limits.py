from __future__ import annotations

from hardener.model import Severity, Tier
from hardener.policy import resource_limits
from hardener.python.fixes import image_name, plan_edits
from hardener.rules.base import Example, Rule

_CPU = ("nano_cpus", "cpu_quota", "cpu_count", "cpuset_cpus")


class SdkMissingResourceLimits(Rule):
    id = "HD303"
    name = "sdk-missing-resource-limits"
    kind = "python"
    summary = "Limit the memory, CPU and process count of containers started from Python"
    severity = Severity.WARNING
    tier = Tier.BEHAVIOUR_CHANGING
    rationale = (
        "As in compose (HD203): the fix adds the missing `mem_limit`, `nano_cpus` and `pids_limit` for images "
        "of a class hardener knows (hardener/data/limits.toml), or from `memory-limit`, `cpu-limit` and "
        "`pids-limit` when the settings give them, and never changes a limit that is set. Containers started by "
        "a test or benchmark harness are reported only (their file's role). Check the values against what the "
        "container really uses."
    )
    references = ("CIS Docker Benchmark v1.6 5.11", "CIS Docker Benchmark v1.6 5.12", "CIS Docker Benchmark v1.6 5.29")
    valid = ('import docker\ndocker.from_env().containers.run("x", mem_limit="1g", nano_cpus=10**9, pids_limit=50)\n',)
    invalid = (
        Example(
            'import docker\ndocker.from_env().containers.run("redis:7", mem_limit="1g")\n',
            'import docker\ndocker.from_env().containers.run("redis:7", mem_limit="1g", nano_cpus=500000000, pids_limit=256)\n',
            reason="is a cache image",
        ),
        Example('import docker\ndocker.from_env().containers.run("x", mem_limit="1g")\n', None, reason="no class"),
        # A benchmark harness starts containers whose needs are the benchmark's: reported, not changed.
        Example(
            'import docker\ndocker.from_env().containers.run("redis:7")\n',
            None,
            path="benchmarks/harness.py",
            reason="test file",
        ),
    )

    def check(self, document, context):
        config = context.config
        for call in document.calls:
            limits, unavailable = resource_limits(image_name(call), config)
            wanted: dict = {}
            missing = [k for k in ("mem_limit", "pids_limit") if call.keyword(k) is None]
            if not any(call.keyword(k) is not None for k in _CPU):
                missing.insert(1, "nano_cpus")
            if limits is None:
                if missing:
                    yield self.finding(
                        call.line,
                        f"{call.label} sets no {', '.join(missing)}",
                        fix_unavailable=unavailable,
                    )
                continue
            if call.keyword("mem_limit") is None:
                wanted["mem_limit"] = limits.memory
            if not any(call.keyword(k) is not None for k in _CPU):
                wanted["nano_cpus"] = limits.nano_cpus
            if call.keyword("pids_limit") is None:
                wanted["pids_limit"] = limits.pids
            if not wanted:
                continue
            edits, reason = plan_edits(document, call, scalars=wanted)
            yield self.finding(
                call.line,
                f"{call.label} sets no {', '.join(wanted)}",
                edits=edits,
                description="limited " + ", ".join(f"{k}={v}" for k, v in wanted.items()),
                fix_unavailable=reason,
                scope=call.scope,
                evidence=limits.evidence,
            )
