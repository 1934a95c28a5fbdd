from __future__ import annotations

from hardener.compose.fixes import Plan, apply_plan
from hardener.compose.services import image, is_fragment, limit_floors
from hardener.model import Severity, Tier
from hardener.policy import resource_limits
from hardener.rules.base import Example, Rule

# Each limit in the two styles Compose accepts: service keys, or deploy.resources.limits.
_SERVICE_KEYS = {"memory": ("mem_limit",), "cpus": ("cpus", "cpu_quota", "cpu_count"), "pids": ("pids_limit",)}
_SERVICE_NAMES = {"memory": "mem_limit", "cpus": "cpus", "pids": "pids_limit"}
_LABELS = {"memory": "memory", "cpus": "CPU", "pids": "pids", "mem_limit": "memory", "pids_limit": "pids"}


def _limits(service):
    deploy = service.get("deploy")
    resources = deploy.get("resources") if deploy is not None else None
    return resources.get("limits") if resources is not None else None


def file_uses_deploy(document) -> bool:
    return any(s.get("deploy") is not None for s in document.services)


class MissingResourceLimits(Rule):
    id = "HD203"
    name = "missing-resource-limits"
    kind = "compose"
    summary = "Limit each service's memory, CPU and process count"
    severity = Severity.WARNING
    tier = Tier.BEHAVIOUR_CHANGING
    rationale = (
        "A service without limits can take all of the host's memory, CPU or process table, so one bug or "
        "attack takes every other service down. One value for every service is wrong for most of them, so the "
        "fix adds the missing limits only for images of a class hardener knows (databases, caches, web servers, "
        "JVMs, search engines, browsers; hardener/data/limits.toml), or from `memory-limit`, `cpu-limit` and "
        "`pids-limit` when the settings give them. It never writes a limit below what the service already "
        "implies (a memory reservation, a JVM's -Xmx, ulimits nproc) and never changes one that is set. "
        "Machine-learning, analytics and build containers, and images of no known class, are reported only. "
        "Limits go in `deploy.resources.limits` when the file already uses `deploy`, otherwise as `limits-style` "
        "says. Check the values against the service's real use (`hardener prove` measures it)."
    )
    references = (
        "CIS Docker Benchmark v1.6 5.11",
        "CIS Docker Benchmark v1.6 5.12",
        "CIS Docker Benchmark v1.6 5.29",
        "KICS bb9ac4f7",
    )
    valid = (
        "services:\n  web:\n    image: nginx:1.27\n    mem_limit: 256m\n    cpus: 1\n    pids_limit: 100\n",
        "services:\n  web:\n    image: nginx:1.27\n    deploy:\n      resources:\n        limits: {memory: 1g, cpus: '2', pids: 50}\n",
        # A fragment of an override file: its base file gets the limits.
        "services:\n  web:\n    labels:\n      traefik.enable: 'true'\n",
    )
    invalid = (
        Example(
            "services:\n  web:\n    image: nginx:1.27\n    mem_limit: 1g\n",
            "services:\n  web:\n    image: nginx:1.27\n    mem_limit: 1g\n    cpus: 0.5\n    pids_limit: 256\n",
            reason="is a web image: limits from its class",
        ),
        Example(
            "services:\n  web:\n    image: nginx:1.27\n    deploy:\n      replicas: 2\n  db:\n    image: postgres:16\n",
            "services:\n  web:\n    image: nginx:1.27\n    deploy:\n      replicas: 2\n      resources:\n        limits:\n"
            "          memory: 256m\n          cpus: 0.5\n          pids: 256\n  db:\n    image: postgres:16\n"
            "    deploy:\n      resources:\n        limits:\n          memory: 1g\n          cpus: 1\n          pids: 512\n",
        ),
        # No class known, no measured use: the same 512m everywhere would be a guess.
        Example("services:\n  api:\n    image: example/api:1\n", None, reason="of no class hardener knows"),
        Example("services:\n  llm:\n    image: ollama/ollama:0.5\n", None, reason="depend on the model"),
        Example("services:\n  olap:\n    image: clickhouse/clickhouse-server:24\n", None, reason="10,000 threads"),
        # Never below what the service itself implies: the JVM heap it is given.
        Example(
            "services:\n  search:\n    image: elasticsearch:8.15.0\n    environment:\n      ES_JAVA_OPTS: -Xms2g -Xmx2g\n",
            "services:\n  search:\n    image: elasticsearch:8.15.0\n    environment:\n      ES_JAVA_OPTS: -Xms2g -Xmx2g\n"
            "    mem_limit: 3g\n    cpus: 2\n    pids_limit: 4096\n",
            reason="memory raised to 3g",
        ),
        Example(
            "services:\n  kc:\n    image: quay.io/keycloak/keycloak:26.0\n    ulimits:\n      nproc: 65535\n",
            "services:\n  kc:\n    image: quay.io/keycloak/keycloak:26.0\n    ulimits:\n      nproc: 65535\n"
            "    mem_limit: 2g\n    cpus: 2\n    pids_limit: 65535\n",
            reason="ulimits nproc",
        ),
        # A test stack keeps running as its tests expect: reported, not changed.
        Example("services:\n  db:\n    image: postgres:16\n", None, path="tests/compose.yaml", reason="test file"),
    )

    def plan(self, service, config, uses_deploy: bool) -> tuple[Plan | None, str, tuple[str, ...]]:
        """(the plan, or None; why no values could be chosen; what the values rest on)."""
        limits = _limits(service)
        in_deploy = {k for k in _SERVICE_KEYS if limits is not None and limits.get(k) is not None}
        in_service = {k for k, keys in _SERVICE_KEYS.items() if any(service.get(key) is not None for key in keys)}
        missing = [k for k in _SERVICE_KEYS if k not in in_deploy | in_service]
        if not missing:
            return None, "", ()
        measured = config.measurement(service.name)
        chosen, reason = resource_limits(image(service), config, limit_floors(service), measured)
        if chosen is None:
            return Plan(), reason, ()
        offered = {"memory": chosen.memory, "cpus": chosen.cpus, "pids": str(chosen.pids)}
        defaults = {k: value for k, value in offered.items() if value is not None}
        missing = [k for k in missing if k in defaults]
        if not missing:
            # Measured memory and pids are set; CPU time was not measured, so no value is proposed.
            return Plan(), "CPU use is not measured: set a CPU limit by hand, or `cpu-limit` in the settings", ()
        if in_service and not in_deploy:
            use_deploy = False
        elif in_deploy and not in_service:
            use_deploy = True
        else:
            use_deploy = uses_deploy or config.limits_style == "deploy"
        if use_deploy:
            values = tuple((k, defaults[k]) for k in missing)
            return Plan(scalars=values, nested=("deploy", "resources", "limits"), keys=("deploy",)), "", chosen.evidence
        values = tuple((_SERVICE_NAMES[k], defaults[k]) for k in missing)
        return Plan(scalars=values, keys=tuple(k for k, _ in values)), "", chosen.evidence

    def check(self, document, context):
        config = context.config
        uses_deploy = file_uses_deploy(document)
        for service in document.standalone_services:
            if is_fragment(service):
                continue
            plan, unavailable, evidence = self.plan(service, config, uses_deploy)
            if plan is None:
                continue
            missing = [k for k in _SERVICE_KEYS if k not in _set_limits(service)]
            message = f"service {service.name!r} has no {' or '.join(_LABELS[k] for k in missing)} limit"
            if not plan.scalars:
                yield self.finding(service.key.line, message, fix_unavailable=unavailable)
                continue
            edits, reason, owns = apply_plan(
                document, service, plan, config, lambda s: self.plan(s, config, uses_deploy)[0]
            )
            limited = ", ".join(f"{k} to {v}" for k, v in plan.scalars)
            yield self.finding(
                service.key.line,
                message,
                edits=edits,
                description=f"limited {limited}",
                fix_unavailable=reason,
                owns=owns,
                evidence=evidence,
            )


def _set_limits(service) -> set[str]:
    limits = _limits(service)
    in_deploy = {k for k in _SERVICE_KEYS if limits is not None and limits.get(k) is not None}
    return in_deploy | {k for k, keys in _SERVICE_KEYS.items() if any(service.get(key) is not None for key in keys)}
