from __future__ import annotations

from hardener.images import runtime_needs
from hardener.model import Severity, Tier
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
            needs = runtime_needs(image, config.image_capabilities)
            message = f"containers.{call.method}() keeps Docker's default capabilities"
            if needs is None and not config.drop_capabilities_of_unknown_images:
                what = f"image `{image}`" if image else "the image (not a literal)"
                yield self.finding(call.line, message, fix_unavailable=f"the capabilities {what} needs are unknown")
                continue
            lists = {"cap_drop": ["ALL"]}
            if needs is not None and needs.cap_add:
                lists["cap_add"] = list(needs.cap_add)
            edits, reason = plan_edits(document, call, lists=lists)
            yield self.finding(
                call.line,
                message,
                edits=edits,
                fix_unavailable=reason,
                scope=(call.start, call.end),
                description="dropped all capabilities and added back "
                + (", ".join(lists.get("cap_add", [])) or "nothing"),
            )
