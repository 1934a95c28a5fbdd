from __future__ import annotations

from hardener.model import Severity, Tier
from hardener.policy import writable_paths
from hardener.python.edits import add_to_dict, literal
from hardener.python.fixes import image_name, is_true, plan_edits
from hardener.rules.base import Example, Rule


class SdkWritableRootFilesystem(Rule):
    id = "HD304"
    name = "sdk-writable-root-filesystem"
    kind = "python"
    summary = "Start containers from Python with a read-only root file system"
    severity = Severity.WARNING
    tier = Tier.BEHAVIOUR_CHANGING
    rationale = (
        "As in compose (HD204): the fix adds `read_only=True` and a tmpfs for each path the image is known "
        "to write, never over a volume. Unknown images are reported. Test that the container starts."
    )
    references = ("CIS Docker Benchmark v1.6 5.13",)
    valid = ('import docker\ndocker.from_env().containers.run("nginx:1.27", read_only=True)\n',)
    invalid = (
        Example(
            'import docker\ndocker.from_env().containers.run("redis:7", volumes={"data": {"bind": "/data"}})\n',
            'import docker\ndocker.from_env().containers.run("redis:7", volumes={"data": {"bind": "/data"}}, read_only=True, tmpfs={"/tmp": ""})\n',
        ),
    )

    def check(self, document, context):
        for call in document.calls:
            if is_true(call, "read_only") or is_true(call, "privileged") or call.keyword("read_only") is not None:
                continue
            image = image_name(call)
            volumes = literal(call.keyword("volumes").value) if call.keyword("volumes") is not None else {}
            writable = writable_paths(image, context.config, _targets(volumes))
            message = f"{call.label} gives the container a writable root file system"
            if writable is None:
                yield self.finding(call.line, message, fix_unavailable="the paths the image writes are unknown")
                continue
            paths = list(writable)
            tmpfs = call.keyword("tmpfs")
            scalars = {"read_only": True}
            edits, reason = [], None
            if tmpfs is None:
                if paths:
                    scalars["tmpfs"] = {p: "" for p in paths}
            else:
                present = literal(tmpfs.value)
                missing = {p: "" for p in paths if isinstance(present, dict) and p not in present}
                edit = add_to_dict(document, tmpfs.value, missing) if missing else None
                if missing and edit is None:
                    reason = "`tmpfs` is not a literal dict"
                edits += [edit] if edit else []
            if reason is None:
                more, reason = plan_edits(document, call, scalars=scalars)
                edits += more
            yield self.finding(
                call.line,
                message,
                edits=edits if reason is None else None,
                fix_unavailable=reason,
                description="made the root file system read-only"
                + (f" with tmpfs {', '.join(paths)}" if paths else ""),
                scope=call.scope,
            )


def _targets(volumes) -> list[str]:
    if isinstance(volumes, dict):
        return [v.get("bind", "") for v in volumes.values() if isinstance(v, dict)]
    if isinstance(volumes, list):
        return [str(v).split(":")[1] for v in volumes if ":" in str(v)]
    return ["/"]  # not a literal: assume anything may be a volume
