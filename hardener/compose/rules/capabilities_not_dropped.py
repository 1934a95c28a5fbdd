from __future__ import annotations

from hardener.compose.fixes import Plan, apply_plan
from hardener.compose.services import described_image, image, is_fragment, list_values, maybe_true
from hardener.model import Severity, Tier
from hardener.policy import capabilities_to_add
from hardener.rules.base import Example, Rule


class CapabilitiesNotDropped(Rule):
    id = "HD202"
    name = "capabilities-not-dropped"
    kind = "compose"
    summary = "Drop all capabilities, then add back only what the image needs"
    severity = Severity.WARNING
    tier = Tier.BEHAVIOUR_CHANGING
    rationale = (
        "Docker gives every container 14 capabilities (CHOWN, DAC_OVERRIDE, NET_RAW, SETUID, ...). Most "
        "services need few or none. The fix adds `cap_drop: [ALL]` and the `cap_add` the image is known to "
        "need (for example postgres, mysql, redis and mongo entrypoints chown their data and step down with "
        "gosu: CHOWN, SETUID, SETGID, ...). For images hardener does not know, it reports and leaves the "
        "choice to you (`image-capabilities`, `drop-capabilities-of-unknown-images`). Test that the service "
        "still starts and that features such as ping (NET_RAW) are not needed."
    )
    references = ("CIS Docker Benchmark v1.6 5.4", "KICS ce76b7d0", "compose-lint CL-0006")
    valid = (
        "services:\n  db:\n    image: postgres:16\n    cap_drop: [ALL]\n    cap_add: [CHOWN, SETUID, SETGID]\n",
        "services:\n  tool:\n    image: example/tool\n    privileged: true\n",
    )
    invalid = (
        Example(
            "services:\n  cache:\n    image: redis:7\n",
            "services:\n  cache:\n    image: redis:7\n    cap_drop:\n      - ALL\n    cap_add:\n      - CHOWN\n"
            "      - SETGID\n      - SETUID\n",
        ),
        Example(
            "services:\n  web:\n    image: nginx:1.27\n    cap_add: [NET_ADMIN]\n",
            "services:\n  web:\n    image: nginx:1.27\n    cap_add: [NET_ADMIN, CHOWN, SETGID, SETUID]\n    cap_drop: [ALL]\n",
        ),
        Example("services:\n  app:\n    build: .\n", None),
    )

    def plan(self, service, config) -> Plan | None:
        if maybe_true(service, "privileged"):
            return None  # privileged overrides capabilities; reported by privileged-service
        if "ALL" in (v.upper() for v in list_values(service, "cap_drop")):
            return None
        measured = config.measurement(service.name)
        if measured is not None and measured.capabilities is not None:
            cap_add = measured.capabilities  # a set hardener prove started the service with
        else:
            cap_add = capabilities_to_add(image(service), config)
        if cap_add is None:
            return Plan()  # needs a finding, but there is nothing known to add
        lists: tuple[tuple[str, tuple[str, ...]], ...] = (("cap_drop", ("ALL",)),)
        if cap_add:
            lists += (("cap_add", cap_add),)
        return Plan(lists=lists, keys=("cap_drop", "cap_add"))

    def check(self, document, context):
        config = context.config
        for service in document.standalone_services:
            if is_fragment(service):
                continue  # an override file's fragment: the file that defines the service gets the fix
            plan = self.plan(service, config)
            if plan is None:
                continue
            message = f"service {service.name!r} keeps Docker's default capabilities"
            if not plan.lists:
                what = described_image(service)
                yield self.finding(
                    service.key.line,
                    message,
                    fix_unavailable=f"the capabilities {what} needs are unknown: list them under "
                    "`image-capabilities`, or set `drop-capabilities-of-unknown-images`",
                )
                continue
            edits, reason, owns = apply_plan(document, service, plan, config, lambda s: self.plan(s, config))
            added = ", ".join(dict(plan.lists).get("cap_add", ())) or "nothing"
            yield self.finding(
                service.key.line,
                message,
                edits=edits,
                description=f"dropped all capabilities and added back {added}",
                fix_unavailable=reason,
                owns=owns,
                evidence=_evidence(service, config),
            )


def _evidence(service, config) -> tuple[str, ...]:
    measured = config.measurement(service.name)
    if measured is not None and measured.capabilities is not None and measured.capabilities_how:
        return (measured.capabilities_how,)
    return ()
