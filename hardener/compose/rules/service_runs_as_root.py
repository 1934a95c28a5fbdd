from __future__ import annotations

from hardener.compose.fixes import Plan, apply_plan
from hardener.compose.services import image, is_fragment, mounts
from hardener.model import Severity, Tier
from hardener.policy import image_needs, is_under, non_root_user
from hardener.rules.base import Example, Rule


class ServiceRunsAsRoot(Rule):
    id = "HD205"
    name = "service-runs-as-root"
    kind = "compose"
    summary = "Run images that support it as their non-root user"
    severity = Severity.WARNING
    tier = Tier.BEHAVIOUR_CHANGING
    rationale = (
        "Official database images start as root only to fix ownership of their data folder before "
        "stepping down. Started directly as their own user (postgres, mysql, redis, mongodb) they skip that "
        "step and never hold root. The fix adds `user:` for images known to support it, when the data folder "
        "is a named volume or no volume at all (Docker gives a new named volume the ownership of the image's "
        "folder). A host bind mount over the data folder is created owned by root, and only the entrypoint, "
        "running as root, hands it over: there the fix is not made. Test that the service starts with its "
        "existing data."
    )
    references = ("CIS Docker Benchmark v1.6 4.1", "CIS Docker Benchmark v1.6 5.31")
    valid = (
        "services:\n  db:\n    image: postgres:16\n    user: postgres\n",
        "services:\n  app:\n    image: example/app:1\n",
    )
    invalid = (
        Example(
            "services:\n  cache:\n    image: redis:7-alpine\n",
            "services:\n  cache:\n    image: redis:7-alpine\n    user: redis\n",
        ),
        Example("services:\n  db:\n    image: postgres:16\n    user: root\n", None),
        # The data folder is a host folder: created root-owned, only the root entrypoint can hand it over.
        Example(
            "services:\n  db:\n    image: postgres:16\n    volumes:\n      - ./pgdata:/var/lib/postgresql/data\n",
            None,
            reason="bind mount of the host",
        ),
        Example(
            "services:\n  db:\n    image: postgres:16\n    volumes:\n      - type: bind\n        source: /srv/pg\n"
            "        target: /var/lib/postgresql/data\n",
            None,
            reason="bind mount of the host",
        ),
        # A named volume takes the image folder's owner: safe.
        Example(
            "services:\n  db:\n    image: postgres:16\n    volumes:\n      - pg:/var/lib/postgresql/data\nvolumes:\n  pg:\n",
            "services:\n  db:\n    image: postgres:16\n    volumes:\n      - pg:/var/lib/postgresql/data\n    user: postgres\n"
            "volumes:\n  pg:\n",
            reason="data on the named volume `pg`",
        ),
        # A development stack keeps what its developers start.
        Example(
            "services:\n  cache:\n    image: redis:7\n", None, path="docker-compose.dev.yml", reason="development file"
        ),
    )

    def plan(self, service, config) -> Plan | None:
        if service.scalar("user") is not None:
            return None
        user = non_root_user(image(service), config)
        return Plan(scalars=(("user", user),), keys=("user",)) if user else None

    def check(self, document, context):
        config = context.config
        for service in document.standalone_services:
            if is_fragment(service):
                continue
            user = service.scalar("user")
            if user is not None and user.split(":")[0] in ("root", "0"):
                yield self.finding(
                    service.get("user").line,
                    f"service {service.name!r} runs as root explicitly",
                    fix_unavailable="`user: root` is set on purpose",
                )
                continue
            plan = self.plan(service, config)
            if plan is None:
                continue
            user = dict(plan.scalars)["user"]
            message = f"service {service.name!r} starts `{image(service)}` as root, though it runs as `{user}`"
            declined, evidence = _data_evidence(service, user, config)
            if declined:
                yield self.finding(service.key.line, message, fix_unavailable=declined)
                continue
            edits, reason, owns = apply_plan(document, service, plan, config, lambda s: self.plan(s, config))
            yield self.finding(
                service.key.line,
                message,
                edits=edits,
                description=f"set `user: {user}`",
                fix_unavailable=reason,
                owns=owns,
                evidence=evidence,
            )


def is_bind_mount(mount) -> bool:
    """A host path (./data, /srv/pg, ~/x, ${DATA_DIR}), or long syntax with `type: bind`."""
    node = mount.node
    if getattr(node, "kind", None) == "map":
        kind = node.get("type")
        return kind is not None and kind.text_value == "bind"
    source = mount.source or ""
    return source.startswith((".", "/", "~", "$"))


def _data_evidence(service, user: str, config) -> tuple[str | None, tuple[str, ...]]:
    """(why `user:` would break the service's data, or None; what makes it safe)."""
    needs = image_needs(image(service), config)
    data = needs.data if needs is not None else ()
    over = [m for m in mounts(service) if any(is_under(m.target, d) or is_under(d, m.target) for d in data)]
    for mount in over:
        if is_bind_mount(mount):
            return (
                f"`{mount.target}` is a bind mount of the host (`{mount.source}`): Docker creates it owned by root, "
                f"and only the image's entrypoint, running as root, hands it to `{user}`"
            ), ()
    if over:
        volume = f"the named volume `{over[0].source}`" if over[0].source else "an anonymous volume"
        return None, (
            f"data on {volume}: Docker creates it with the owner of the image's folder, so `user: {user}` can write it",
        )
    if not data:
        return None, ()
    return None, (f"no volume over its data folder `{data[-1]}`: the image gives that folder to `{user}`",)
