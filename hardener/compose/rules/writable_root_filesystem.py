from __future__ import annotations

from hardener.compose.fixes import Plan, apply_plan
from hardener.compose.rules.secret_in_environment import secrets_from_environment
from hardener.compose.services import (
    described_image,
    image,
    is_fragment,
    is_true,
    list_values,
    maybe_true,
    mounts,
    writes_from_repository,
    writes_outside,
)
from hardener.measured import tmpfs_from
from hardener.model import Severity, Tier
from hardener.policy import writable_paths
from hardener.rules.base import Example, Rule


class WritableRootFilesystem(Rule):
    id = "HD204"
    name = "writable-root-filesystem"
    kind = "compose"
    summary = "Make the container's root file system read-only, with tmpfs where the image writes"
    severity = Severity.WARNING
    tier = Tier.BEHAVIOUR_CHANGING
    rationale = (
        "A read-only root file system stops an intruder from changing binaries or dropping tools, and makes "
        "unexpected writes visible. The fix adds `read_only: true` and a tmpfs for each path the image is "
        "known to write (for example nginx: /var/cache/nginx, /var/run, /tmp), never over a volume or the "
        "image's data folder. Images hardener does not know are reported only, and so are services whose own "
        "command writes outside their volumes and tmpfs (`>`, `tee`, `cp`, `mkdir`, `sed -i` on a path) or that "
        "a script, Makefile or CI job of the repository writes into (`docker exec`, `docker cp`). Test that the "
        "service starts: a missed path fails with 'Read-only file system'."
    )
    references = ("CIS Docker Benchmark v1.6 5.13", "compose-lint CL-0007", "semgrep writable-filesystem-service")
    valid = (
        "services:\n  web:\n    image: nginx:1.27\n    read_only: true\n    tmpfs: [/var/cache/nginx, /var/run, /tmp]\n",
    )
    invalid = (
        # Compose copies an environment-sourced secret into the container at start: not into a read-only one.
        Example(
            "services:\n  db:\n    image: postgres:16\n    environment:\n"
            "      POSTGRES_PASSWORD_FILE: /run/secrets/pg\n    secrets:\n      - pg\n"
            "secrets:\n  pg:\n    environment: PG_PASSWORD\n",
            None,
            reason="read-only root file system refuses",
        ),
        Example(
            "services:\n  web:\n    image: nginx:1.27\n",
            "services:\n  web:\n    image: nginx:1.27\n    read_only: true\n    tmpfs:\n      - /var/cache/nginx\n"
            "      - /var/run\n      - /tmp\n",
        ),
        Example(
            "services:\n  db:\n    image: postgres:16\n    volumes:\n      - pg:/var/lib/postgresql/data\n      - ./run:/tmp\n",
            "services:\n  db:\n    image: postgres:16\n    volumes:\n      - pg:/var/lib/postgresql/data\n      - ./run:/tmp\n"
            "    read_only: true\n    tmpfs:\n      - /var/run/postgresql\n",
        ),
        Example("services:\n  app:\n    image: example/app:1\n", None),
        # The service's own command writes into the image: a read-only root would stop it.
        Example(
            'services:\n  web:\n    image: nginx:1.27\n    command: sh -c "sed -i s/80/8080/ /etc/nginx/conf.d/default.conf '
            "&& nginx -g 'daemon off;'\"\n",
            None,
            reason="edits it with `sed -i`",
        ),
        Example(
            "services:\n  web:\n    image: nginx:1.27\n",
            None,
            files=(("Makefile", "seed:\n\tdocker compose exec web sh -c 'echo ok > /usr/share/nginx/html/health'\n"),),
            reason="`Makefile` line 2 writes inside it",
        ),
        # Writes into a volume or tmpfs are fine.
        Example(
            "services:\n  web:\n    image: nginx:1.27\n    command: sh -c \"echo ok > /tmp/ready && nginx -g 'daemon off;'\"\n",
            "services:\n  web:\n    image: nginx:1.27\n    command: sh -c \"echo ok > /tmp/ready && nginx -g 'daemon off;'\"\n"
            "    read_only: true\n    tmpfs:\n      - /var/cache/nginx\n      - /var/run\n      - /tmp\n",
        ),
    )

    def plan(self, service, config) -> Plan | None:
        if service.get("read_only") is not None or maybe_true(service, "privileged"):
            return None  # read_only: true is done; read_only: false is a decision
        targets = [m.target for m in mounts(service)]
        existing = {v.split(":")[0] for v in list_values(service, "tmpfs")}
        writable = writable_paths(image(service), config, targets)
        measured = config.measurement(service.name)
        if measured is not None and measured.written is not None:
            learned, blocked = tmpfs_from(measured.written, (*targets, *existing, *(writable or ())))
            if blocked:
                return Plan()
            writable = (*(writable or ()), *learned)
        if writable is None:
            return Plan()  # needs a finding, but the paths to keep writable are unknown
        paths = tuple(p for p in writable if p not in existing)
        lists = (("tmpfs", paths),) if paths else ()
        return Plan(lists=lists, scalars=(("read_only", "true"),), keys=("read_only", "tmpfs"))

    def check(self, document, context):
        config = context.config
        for service in document.standalone_services:
            if is_fragment(service):
                continue
            if service.get("read_only") is not None and not is_true(service, "read_only"):
                yield self.finding(
                    service.get("read_only").line,
                    f"service {service.name!r} has a writable root file system (read_only is set to false)",
                    fix_unavailable="read_only: false is set on purpose",
                )
                continue
            plan = self.plan(service, config)
            if plan is None:
                continue
            message = f"service {service.name!r} has a writable root file system"
            if not plan.scalars:
                what = described_image(service)
                unknown = f"the paths {what} writes are unknown; add `read_only: true` and the tmpfs it needs by hand"
                yield self.finding(service.key.line, message, fix_unavailable=_blocked(service, config) or unknown)
                continue
            # HD206 moves a literal secret only where it fixes at all (production files, when selected).
            moves = context.role_fixes and "HD206" in getattr(context, "selected", {"HD206"})
            handed_over = secrets_from_environment(document, service, moved_too=moves)
            if handed_over:
                yield self.finding(
                    service.key.line,
                    message,
                    fix_unavailable="Compose writes a secret taken from the environment into the container when it "
                    f"starts ({'; '.join(handed_over)}), which a read-only root file system refuses: use a `file:` "
                    "secret, then add `read_only: true`",
                )
                continue
            paths = dict(plan.lists).get("tmpfs", ())
            kept = [m.target for m in mounts(service)] + [v.split(":")[0] for v in list_values(service, "tmpfs")]
            written = writes_outside(service, [*kept, *paths])
            from_repository = writes_from_repository(service, context.repository)
            if written or from_repository:
                why = (
                    f"its command {written[1]}: `{written[0]}` lies outside its volumes and tmpfs"
                    if written
                    else f"{from_repository}, outside its volumes and tmpfs"
                )
                yield self.finding(
                    service.key.line, message, fix_unavailable=f"{why}; a read-only root would stop that"
                )
                continue
            edits, reason, owns = apply_plan(document, service, plan, config, lambda s: self.plan(s, config))
            evidence = ["its command writes nothing outside its volumes and tmpfs"] if service.get("command") else []
            measured = config.measurement(service.name)
            if measured is not None and measured.written is not None:
                evidence.append(
                    "started by hardener prove, it wrote "
                    + (", ".join(measured.written[:5]) if measured.written else "nothing")
                    + " outside its volumes"
                )
            yield self.finding(
                service.key.line,
                message,
                edits=edits,
                description="made the root file system read-only"
                + (f" with tmpfs {', '.join(paths)}" if paths else ""),
                fix_unavailable=reason,
                owns=owns,
                evidence=(f"{described_image(service)} writes only {', '.join(paths) or 'its volumes'}", *evidence),
            )


def _blocked(service, config) -> str:
    """Why measured writes rule out a read-only root, or ""."""
    measured = config.measurement(service.name)
    if measured is None or not measured.written:
        return ""
    targets = [m.target for m in mounts(service)]
    existing = [v.split(":")[0] for v in list_values(service, "tmpfs")]
    writable = writable_paths(image(service), config, targets) or ()
    _, blocked = tmpfs_from(measured.written, (*targets, *existing, *writable))
    if not blocked:
        return ""
    shown = ", ".join(f"`{p}`" for p in blocked[:3]) + (" and more" if len(blocked) > 3 else "")
    return (
        f"started by hardener prove, it wrote {shown}, outside its volumes and the scratch folders; a tmpfs "
        "there would hide what the image ships or lose data on restart: declare a volume for it first"
    )
