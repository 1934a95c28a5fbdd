from __future__ import annotations

import re

from hardener.compose.services import once_per_place
from hardener.model import Severity
from hardener.rules.base import Example, Rule

_DISABLED = re.compile(
    r"^(seccomp[:=]unconfined|apparmor[:=]unconfined|label[:=]disable|systempaths[:=]unconfined)$", re.I
)


class SecurityProfileDisabled(Rule):
    id = "HD213"
    name = "security-profile-disabled"
    kind = "compose"
    summary = "Keep the seccomp, AppArmor and SELinux profiles on"
    severity = Severity.ERROR
    rationale = (
        "Docker's default seccomp profile blocks about 44 dangerous system calls and AppArmor/SELinux confine "
        "file access. `unconfined` switches that protection off for the whole container. Write a profile that "
        "allows the one call the service needs instead."
    )
    references = (
        "CIS Docker Benchmark v1.6 5.2",
        "CIS Docker Benchmark v1.6 5.3",
        "CIS Docker Benchmark v1.6 5.22",
        "compose-lint CL-0009",
    )
    valid = ("services:\n  web:\n    image: nginx:1.27\n    security_opt: [no-new-privileges:true]\n",)
    invalid = (Example("services:\n  web:\n    image: nginx:1.27\n    security_opt:\n      - seccomp:unconfined\n"),)

    def check(self, document, context):
        found = (
            (service, item)
            for service in document.services
            if (node := service.get("security_opt")) is not None and node.resolved.kind == "seq"
            for item in node.resolved.items
            if _DISABLED.match(item.resolved.text_value or "")
        )
        for service, item in once_per_place(found):
            yield self.finding(
                item.line, f"service {service.name!r} turns a security profile off ({item.resolved.text_value})"
            )
