from __future__ import annotations

from hardener.compose.services import mounts, once_per_place
from hardener.model import Severity
from hardener.rules.base import Example, Rule

SENSITIVE = (
    "/",
    "/etc",
    "/proc",
    "/sys",
    "/boot",
    "/dev",
    "/root",
    "/var/run",
    "/run",
    "/var/lib/docker",
    "/usr",
    "/lib",
    "/bin",
    "/sbin",
    "/var/log",
)


class SensitiveHostMount(Rule):
    id = "HD215"
    name = "sensitive-host-mount"
    kind = "compose"
    summary = "Do not mount the host's system folders into a container"
    severity = Severity.WARNING
    rationale = (
        "Mounting /, /etc, /proc, /sys, /dev or Docker's own folders gives the container the means to read "
        "secrets of the host or change it. Mount only the application's own files, read-only where possible."
    )
    references = ("CIS Docker Benchmark v1.6 5.6", "KICS 1c1325ff")
    valid = ("services:\n  web:\n    image: nginx:1.27\n    volumes:\n      - ./conf:/etc/nginx/conf.d:ro\n",)
    invalid = (Example("services:\n  agent:\n    image: example/agent:1\n    volumes:\n      - /etc:/host/etc:ro\n"),)

    def check(self, document, context):
        found = (
            (service, mount.node, folder)
            for service in document.services
            for mount in mounts(service)
            if (folder := (mount.source or "").rstrip("/") or ("/" if mount.source else "")) in SENSITIVE
        )
        for service, node, folder in once_per_place(found):
            yield self.finding(node.line, f"service {service.name!r} mounts the host's {folder}")
