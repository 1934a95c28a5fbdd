from __future__ import annotations

from hardener.compose.services import is_true, once_per_place
from hardener.model import Severity
from hardener.rules.base import Example, Rule


class PrivilegedService(Rule):
    id = "HD210"
    name = "privileged-service"
    kind = "compose"
    summary = "Services should not run privileged"
    severity = Severity.ERROR
    rationale = (
        "`privileged: true` gives the container every capability and every device of the host: it is root "
        "on the host in all but name. Grant the specific capabilities or devices the service needs instead. "
        "hardener does not remove it: tools such as Docker-in-Docker depend on it."
    )
    references = ("CIS Docker Benchmark v1.6 5.5", "KICS ae5b6871", "compose-lint CL-0002")
    valid = ("services:\n  web:\n    image: nginx:1.27\n    privileged: false\n",)
    invalid = (Example("services:\n  dind:\n    image: docker:27-dind\n    privileged: true\n"),)

    def check(self, document, context):
        flagged = ((s, s.get("privileged")) for s in document.services if is_true(s, "privileged"))
        for service, node in once_per_place(flagged):
            yield self.finding(node.line, f"service {service.name!r} runs privileged")
