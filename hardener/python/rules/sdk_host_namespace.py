from __future__ import annotations

from hardener.model import Severity
from hardener.python.edits import literal
from hardener.rules.base import Example, Rule

_MODES = ("network_mode", "pid_mode", "ipc_mode", "userns_mode", "uts_mode")


class SdkHostNamespace(Rule):
    id = "HD311"
    name = "sdk-host-namespace"
    kind = "python"
    summary = "Containers started from Python should not share the host's namespaces"
    severity = Severity.WARNING
    rationale = 'As in compose (HD212): `network_mode="host"`, `pid_mode="host"` and the like remove the container\'s isolation.'
    references = ("CIS Docker Benchmark v1.6 5.10", "CIS Docker Benchmark v1.6 5.16")
    valid = ('import docker\ndocker.from_env().containers.run("x", network_mode="bridge")\n',)
    invalid = (Example('import docker\ndocker.from_env().containers.run("x", network_mode="host")\n'),)

    def check(self, document, context):
        for call in document.calls:
            for mode in _MODES:
                argument = call.keyword(mode)
                if argument is not None and literal(argument.value) == "host":
                    yield self.finding(argument.line, f'{call.label} sets {mode}="host"')
