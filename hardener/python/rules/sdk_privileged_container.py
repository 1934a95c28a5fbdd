from __future__ import annotations

from hardener.model import Severity
from hardener.python.fixes import is_true
from hardener.rules.base import Example, Rule


class SdkPrivilegedContainer(Rule):
    id = "HD310"
    name = "sdk-privileged-container"
    kind = "python"
    summary = "Containers started from Python should not be privileged"
    severity = Severity.ERROR
    rationale = "As in compose (HD210): `privileged=True` gives the container every capability and device of the host."
    references = ("CIS Docker Benchmark v1.6 5.5",)
    valid = ('import docker\ndocker.from_env().containers.run("x", privileged=False)\n',)
    invalid = (
        Example('import docker\ndocker.from_env().containers.run("x", privileged=True)\n'),
        Example(
            "import docker\napi = docker.APIClient()\n"
            'api.create_container("x", host_config=api.create_host_config(privileged=True))\n'
        ),
    )

    def check(self, document, context):
        for call in document.calls:
            if is_true(call, "privileged"):
                yield self.finding(
                    call.keyword("privileged").line, f"{call.label} starts a privileged container"
                )
