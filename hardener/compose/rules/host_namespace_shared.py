from __future__ import annotations

from hardener.compose.services import once_per_place
from hardener.model import Severity
from hardener.rules.base import Example, Rule

_KEYS = {"network_mode": "network", "pid": "process", "ipc": "IPC", "uts": "UTS", "userns_mode": "user"}


class HostNamespaceShared(Rule):
    id = "HD212"
    name = "host-namespace-shared"
    kind = "compose"
    summary = "Do not share the host's network, process, IPC, UTS or user namespace"
    severity = Severity.WARNING
    rationale = (
        "A container in the host's network namespace sees and binds every host interface; in the host's PID "
        "namespace it sees and can signal every host process; sharing IPC exposes shared memory. Use "
        "published ports and container networks instead."
    )
    references = (
        "CIS Docker Benchmark v1.6 5.10",
        "CIS Docker Benchmark v1.6 5.16",
        "CIS Docker Benchmark v1.6 5.17",
        "CIS Docker Benchmark v1.6 5.21",
        "CIS Docker Benchmark v1.6 5.31",
    )
    valid = ("services:\n  web:\n    image: nginx:1.27\n    network_mode: bridge\n",)
    invalid = (Example("services:\n  agent:\n    image: example/agent:1\n    network_mode: host\n    pid: host\n"),)

    def check(self, document, context):
        found = (
            (service, service.get(key))
            for service in document.services
            for key in _KEYS
            if (service.get(key) is not None and (service.get(key).text_value or "").lower() == "host")
        )
        for service, node in once_per_place(found):
            key = next(k for k in _KEYS if service.get(k) is node)
            yield self.finding(
                node.line, f"service {service.name!r} shares the host's {_KEYS[key]} namespace ({key}: host)"
            )
