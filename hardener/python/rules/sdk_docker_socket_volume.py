from __future__ import annotations

from hardener.model import Severity
from hardener.policy import SOCKETS
from hardener.python.edits import literal
from hardener.rules.base import Example, Rule


class SdkDockerSocketVolume(Rule):
    id = "HD312"
    name = "sdk-docker-socket-volume"
    kind = "python"
    summary = "Do not mount the Docker socket into containers started from Python"
    severity = Severity.ERROR
    rationale = "As in compose (HD211): whoever reaches the Docker socket controls the host."
    references = ("CIS Docker Benchmark v1.6 5.32",)
    valid = ('import docker\ndocker.from_env().containers.run("x", volumes={"data": {"bind": "/data"}})\n',)
    invalid = (
        Example(
            "from docker import APIClient\napi = APIClient()\napi.create_container(\n"
            '    "x", host_config=api.create_host_config(binds=["/var/run/docker.sock:/var/run/docker.sock"])\n)\n'
        ),
        Example(
            'import docker\ndocker.from_env().containers.run("x", volumes={"/var/run/docker.sock": {"bind": "/var/run/docker.sock"}})\n'
        ),
        Example(
            'import docker\ndocker.from_env().containers.run("x", volumes=["/var/run/docker.sock:/var/run/docker.sock:ro"])\n'
        ),
    )

    def check(self, document, context):
        for call in document.calls:
            argument = call.keyword("volumes")
            volumes = literal(argument.value) if argument is not None else None
            sources = list(volumes) if isinstance(volumes, dict) else [str(v).split(":")[0] for v in volumes or []]
            if any(s.rstrip("/") in SOCKETS for s in sources):
                yield self.finding(argument.line, f"{call.label} mounts the container engine's socket")
