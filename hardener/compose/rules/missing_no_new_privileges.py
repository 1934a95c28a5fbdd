from __future__ import annotations

import re

from hardener.compose.fixes import Plan, apply_plan
from hardener.compose.services import is_fragment, list_values, maybe_true
from hardener.model import Severity, Tier
from hardener.rules.base import Example, Rule

_NNP = re.compile(r"^no-new-privileges(?:[:=](true|false))?$", re.IGNORECASE)


class MissingNoNewPrivileges(Rule):
    id = "HD201"
    name = "missing-no-new-privileges"
    kind = "compose"
    summary = "Set no-new-privileges so processes cannot gain privileges (setuid, file capabilities)"
    severity = Severity.WARNING
    tier = Tier.SAFE
    rationale = (
        "Without no-new-privileges a process in the container can gain privileges through setuid binaries "
        "or file capabilities. Setting it blocks that escalation path; entrypoints that step down from root "
        "with gosu or su-exec keep working. Images that rely on sudo or setuid helpers at run time need it off."
    )
    references = ("CIS Docker Benchmark v1.6 5.26", "KICS 27fcc7d6", "compose-lint CL-0003")
    valid = (
        "services:\n  web:\n    image: nginx:1.27\n    security_opt:\n      - no-new-privileges:true\n",
        "services:\n  web:\n    image: nginx:1.27\n    privileged: true\n",
    )
    invalid = (
        Example(
            "services:\n  web:\n    image: nginx:1.27\n",
            "services:\n  web:\n    image: nginx:1.27\n    security_opt:\n      - no-new-privileges:true\n",
        ),
        Example(
            "services:\n  web: {image: nginx:1.27, security_opt: [label:type:svirt_apache_t]}\n",
            "services:\n  web: {image: nginx:1.27, security_opt: [label:type:svirt_apache_t, no-new-privileges:true]}\n",
        ),
        Example("services:\n  web:\n    image: nginx:1.27\n    security_opt: [no-new-privileges:false]\n", None),
    )

    def plan(self, service) -> Plan | None:
        if maybe_true(service, "privileged"):
            return None  # reported by privileged-service
        if any(_NNP.match(v) for v in list_values(service, "security_opt")):
            return None
        return Plan(lists=(("security_opt", ("no-new-privileges:true",)),), keys=("security_opt",))

    def check(self, document, context):
        for service in document.standalone_services:
            if is_fragment(service):
                continue  # an override file's fragment: the file that defines the service gets the fix
            values = [m.group(1) or "true" for v in list_values(service, "security_opt") if (m := _NNP.match(v))]
            if values and "true" not in (v.lower() for v in values):
                yield self.finding(
                    service.key.line,
                    f"service {service.name!r} turns no-new-privileges off explicitly",
                    fix_unavailable="no-new-privileges is set to false on purpose",
                )
                continue
            plan = self.plan(service)
            if plan is None:
                continue
            edits, reason, owns = apply_plan(document, service, plan, context.config, self.plan)
            yield self.finding(
                service.key.line,
                f"service {service.name!r} lets its processes gain privileges (no no-new-privileges)",
                edits=edits,
                description="added `no-new-privileges:true` to security_opt",
                fix_unavailable=reason,
                owns=owns,
            )
