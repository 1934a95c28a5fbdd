from __future__ import annotations

from hardener.model import Severity, Tier
from hardener.policy import capabilities_to_add
from hardener.python.fixes import image_name, is_true, list_values, plan_edits
from hardener.rules.base import Example, Rule


class SdkCapabilitiesNotDropped(Rule):
    id = "HD302"
    name = "sdk-capabilities-not-dropped"
    kind = "python"
    summary = "Drop all capabilities, then add back what the image needs"
    severity = Severity.WARNING
    tier = Tier.BEHAVIOUR_CHANGING
    rationale = (
        'As in compose (HD202): the fix adds `cap_drop=["ALL"]` and the `cap_add` the image is known to need. '
        "Unknown images are reported. Test that the container still starts."
    )
    references = ("CIS Docker Benchmark v1.6 5.4",)
    valid = (
        'import docker\ndocker.from_env().containers.run("redis:7", cap_drop=["ALL"], cap_add=["CHOWN", "SETGID", "SETUID"])\n',
    )
    invalid = (
        Example(
            "import docker\n\ndef start(client: docker.DockerClient):\n    return client.containers.run(\n"
            '        "redis:7",  # the cache\n        detach=True,\n    )\n',
            "import docker\n\ndef start(client: docker.DockerClient):\n    return client.containers.run(\n"
            '        "redis:7",  # the cache\n        detach=True,\n        cap_drop=["ALL"],\n'
            '        cap_add=["CHOWN", "SETGID", "SETUID"],\n    )\n',
        ),
        Example('import docker\ndocker.from_env().containers.run("example/app:1")\n', None),
    )

    def check(self, document, context):
        config = context.config
        for call in document.calls:
            if is_true(call, "privileged"):
                continue
            dropped = list_values(call, "cap_drop")
            if dropped is None or "ALL" in [str(v).upper() for v in dropped]:
                continue
            image = image_name(call)
            cap_add = capabilities_to_add(image, config)
            message = f"{call.label} keeps Docker's default capabilities"
            if cap_add is None:
                what = f"image `{image}`" if image else "the image (not a literal)"
                yield self.finding(call.line, message, fix_unavailable=f"the capabilities {what} needs are unknown")
                continue
            lists = {"cap_drop": ["ALL"]}
            if cap_add:
                lists["cap_add"] = list(cap_add)
            edits, reason = plan_edits(document, call, lists=lists)
            yield self.finding(
                call.line,
                message,
                edits=edits,
                fix_unavailable=reason,
                scope=call.scope,
                description="dropped all capabilities and added back "
                + (", ".join(lists.get("cap_add", [])) or "nothing"),
            )
