from __future__ import annotations

from hardener.model import Severity, Tier
from hardener.python.fixes import is_true, list_values, plan_edits
from hardener.rules.base import Example, Rule


class SdkMissingNoNewPrivileges(Rule):
    id = "HD301"
    name = "sdk-missing-no-new-privileges"
    kind = "python"
    summary = "Containers started from Python should set no-new-privileges"
    severity = Severity.WARNING
    tier = Tier.SAFE
    rationale = (
        "Without no-new-privileges a process in the container can gain privileges through setuid binaries "
        'or file capabilities. The fix adds `security_opt=["no-new-privileges:true"]` to '
        "`containers.run`/`create`, or appends it to an existing literal list. On the low-level API "
        "(`APIClient.create_container`) it goes into the call's `create_host_config(...)`, written inline or "
        "bound to a name before, or into a new one when the call passes none."
    )
    references = ("CIS Docker Benchmark v1.6 5.26",)
    valid = ('import docker\ndocker.from_env().containers.run("redis:7", security_opt=["no-new-privileges:true"])\n',)
    invalid = (
        Example(
            'import docker\nclient = docker.from_env()\nclient.containers.run("redis:7", detach=True)\n',
            'import docker\nclient = docker.from_env()\nclient.containers.run("redis:7", detach=True, security_opt=["no-new-privileges:true"])\n',
        ),
        Example(
            "import docker as d\nc = d.DockerClient(base_url='unix://var/run/docker.sock')\n"
            "c.containers.create('redis:7', security_opt=['label:disable'])\n",
            "import docker as d\nc = d.DockerClient(base_url='unix://var/run/docker.sock')\n"
            "c.containers.create('redis:7', security_opt=['label:disable', 'no-new-privileges:true'])\n",
        ),
        # The low-level API: host settings live in the host config, here bound to a name first.
        Example(
            "import docker\n\nclass Sandbox:\n    api: docker.APIClient\n\n    def start(self, code):\n"
            '        config = self.api.create_host_config(network_mode="none")\n'
            '        return self.api.create_container("python:3.12", command=code, host_config=config)\n',
            "import docker\n\nclass Sandbox:\n    api: docker.APIClient\n\n    def start(self, code):\n"
            '        config = self.api.create_host_config(network_mode="none", security_opt=["no-new-privileges:true"])\n'
            '        return self.api.create_container("python:3.12", command=code, host_config=config)\n',
        ),
        # ... and when the call passes none, a new one, made by the same client.
        Example(
            'import docker\nclient = docker.from_env()\nclient.api.create_container("redis:7")\n',
            'import docker\nclient = docker.from_env()\nclient.api.create_container("redis:7", '
            'host_config=client.api.create_host_config(security_opt=["no-new-privileges:true"]))\n',
        ),
    )

    def check(self, document, context):
        for call in document.calls:
            if is_true(call, "privileged"):
                continue
            values = list_values(call, "security_opt")
            if values is not None and any(str(v).startswith("no-new-privileges") for v in values):
                continue
            edits, reason = plan_edits(document, call, lists={"security_opt": ["no-new-privileges:true"]})
            yield self.finding(
                call.line,
                f"{call.label} lets the container's processes gain privileges",
                edits=edits,
                description="added no-new-privileges:true to security_opt",
                fix_unavailable=reason,
                scope=call.scope,
            )
