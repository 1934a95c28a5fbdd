from __future__ import annotations

from hardener.compose.services import mounts, once_per_place
from hardener.model import Severity
from hardener.policy import SOCKETS
from hardener.rules.base import Example, Rule


class DockerSocketMounted(Rule):
    id = "HD211"
    name = "docker-socket-mounted"
    kind = "compose"
    summary = "Do not mount the Docker socket into a container"
    severity = Severity.ERROR
    rationale = (
        "Whoever can talk to the Docker socket can start a privileged container and own the host; mounting "
        "it read-only does not help. Put a filtering socket proxy in between, or avoid the need."
    )
    references = ("CIS Docker Benchmark v1.6 5.32", "KICS d6355c88", "compose-lint CL-0001")
    valid = ("services:\n  web:\n    image: nginx:1.27\n    volumes:\n      - ./html:/usr/share/nginx/html:ro\n",)
    invalid = (
        Example(
            "services:\n  proxy:\n    image: traefik:3\n    volumes:\n      - /var/run/docker.sock:/var/run/docker.sock:ro\n"
        ),
    )

    def check(self, document, context):
        found = (
            (s, m.node) for s in document.services for m in mounts(s) if m.source and m.source.rstrip("/") in SOCKETS
        )
        for service, node in once_per_place(found):
            yield self.finding(node.line, f"service {service.name!r} mounts the container engine's socket")
