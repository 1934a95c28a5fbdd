from __future__ import annotations

import re

from hardener.dockerfile import users
from hardener.dockerfile.edits import insert_lines_after
from hardener.dockerfile.entrypoint import contexts_for, entrypoint_of
from hardener.dockerfile.style import keyword_case
from hardener.evidence.builds import consumers, contexts_of, shipped_targets
from hardener.images import profile_for
from hardener.model import Severity, Tier
from hardener.rules.base import Example, Rule

# Instructions that may need root while the image is built.
_BUILD_STEPS = {"RUN", "COPY", "ADD", "WORKDIR"}


def create_user_command(tools: str, name: str, uid: int) -> str:
    """A command that creates a system user and group with fixed ids."""
    if tools == "alpine":
        return f"addgroup -S -g {uid} {name} && adduser -S -D -u {uid} -G {name} {name}"
    return (
        f"groupadd --system --gid {uid} {name} && "
        f"useradd --system --uid {uid} --gid {name} --no-log-init --create-home {name}"
    )


class RootUser(Rule):
    id = "HD101"
    name = "root-user"
    kind = "dockerfile"
    summary = "Run the final image as a non-root user that exists"
    severity = Severity.ERROR
    tier = Tier.BEHAVIOUR_CHANGING
    rationale = (
        "A container process running as root is root on the host's kernel: any escape or mounted path is "
        "a full compromise. The final stage should switch to an unprivileged user. The fix reuses a user "
        "the Dockerfile or the base image already has, otherwise creates one with fixed ids using the "
        "base image's own tools, and places USER after the last build step that needs root. Test that the "
        "application can still write where it writes (files copied earlier stay root-owned) and does not "
        "need root at run time."
    )
    references = ("hadolint DL3002", "CIS Docker Benchmark v1.6 4.1", "Checkov CKV_DOCKER_3", "Trivy DS-0002")
    hadolint = ("DL3002",)
    valid = (
        'FROM node:22-slim\nCOPY . /app\nUSER node\nCMD ["node", "/app/index.js"]\n',
        'FROM gcr.io/distroless/static-debian12:nonroot\nCOPY app /app\nENTRYPOINT ["/app"]\n',
        "FROM golang:1.23 AS build\nRUN go build -o /app .\n\nFROM debian:12-slim\nCOPY --from=build /app /app\n"
        'USER 10001:10001\nCMD ["/app"]\n',
    )
    invalid = (
        Example(
            'FROM python:3.12-slim\nWORKDIR /app\nCOPY . .\nEXPOSE 8000\nCMD ["python", "app.py"]\n',
            "FROM python:3.12-slim\nWORKDIR /app\nCOPY . .\n"
            "RUN groupadd --system --gid 10001 appuser && useradd --system --uid 10001 --gid appuser "
            '--no-log-init --create-home appuser\nUSER 10001:10001\nEXPOSE 8000\nCMD ["python", "app.py"]\n',
        ),
        Example(
            'FROM node:22-alpine\nWORKDIR /app\nCOPY . .\nCMD ["node", "index.js"]',
            'FROM node:22-alpine\nWORKDIR /app\nCOPY . .\nUSER node\nCMD ["node", "index.js"]',
        ),
        # The author wrote `USER root` last: never overridden.
        Example(
            'FROM alpine:3.20\nRUN adduser -D worker\nUSER worker\nRUN echo built\nUSER root\nCMD ["sh"]\n',
            None,
            reason="written on purpose",
        ),
        Example(
            "FROM golang:1.23 AS build\nRUN CGO_ENABLED=0 go build -o /app .\nFROM scratch\n"
            'COPY --from=build /app /app\nENTRYPOINT ["/app"]\n',
            "FROM golang:1.23 AS build\nRUN CGO_ENABLED=0 go build -o /app .\nFROM scratch\n"
            'COPY --from=build /app /app\nUSER 10001:10001\nENTRYPOINT ["/app"]\n',
        ),
        Example("FROM postgres:16\nCOPY init.sql /docker-entrypoint-initdb.d/\n", None),
        Example("FROM example.com/private/base:1\nCOPY app /app\n", None),
        # sudo says the unknown base image does not run as root: groupadd would fail there.
        Example("FROM example.com/dev/workspace:1\nRUN sudo apt-get update && sudo apt-get install -y git\n", None),
        # The entrypoint the Dockerfile copies drops privileges itself: it must start as root.
        Example(
            "FROM debian:12-slim\nCOPY docker-entrypoint.sh /usr/local/bin/\n"
            'ENTRYPOINT ["docker-entrypoint.sh"]\nCMD ["app"]\n',
            None,
            files=(("docker-entrypoint.sh", '#!/bin/sh\nchown -R app /data\nexec gosu app "$@"\n'),),
            reason="`docker-entrypoint.sh` changes ownership (`chown`) on line 2",
        ),
        # The entrypoint was read and needs no root: the fix applies, and says what it read.
        Example(
            'FROM python:3.12-slim\nWORKDIR /app\nCOPY . .\nENTRYPOINT ["./start.sh"]\n',
            "FROM python:3.12-slim\nWORKDIR /app\nCOPY . .\n"
            "RUN groupadd --system --gid 10001 appuser && useradd --system --uid 10001 --gid appuser "
            '--no-log-init --create-home appuser\nUSER 10001:10001\nENTRYPOINT ["./start.sh"]\n',
            files=(("start.sh", "#!/bin/sh\nset -e\npython migrate.py\nexec gunicorn app:app\n"),),
            reason="entrypoint `start.sh` read",
        ),
        # A script that is not in the repository hardener read: no evidence, no change.
        Example(
            'FROM python:3.12-slim\nCOPY entrypoint.sh /\nENTRYPOINT ["/entrypoint.sh"]\n',
            None,
            reason="hardener cannot tell whether it must start as root",
        ),
        Example(
            'FROM ubuntu:24.04\nCOPY rootfs/ /\nENTRYPOINT ["/init"]\n',
            None,
            reason="/init",
        ),
        Example(
            'FROM debian:12-slim\nCOPY run.sh /run.sh\nCMD ["/run.sh"]\n',
            None,
            files=(
                ("run.sh", '#!/bin/sh\nif [ "$(id -u)" != "0" ]; then echo "run as root" >&2; exit 1; fi\nexec app\n'),
            ),
            reason="checks whether it runs as root",
        ),
        # Another Dockerfile of the repository starts from this image: a USER would break its RUN steps.
        Example(
            'FROM debian:12-slim\nRUN apt-get update && apt-get install -y --no-install-recommends ca-certificates\nCMD ["bash"]\n',
            None,
            path="images/runtime/Dockerfile",
            files=(
                ("compose.yaml", "services:\n  runtime:\n    build: images/runtime\n    image: acme/runtime:1\n"),
                ("app/Dockerfile", "FROM acme/runtime:1\nRUN apt-get update\n"),
            ),
            reason="`app/Dockerfile` builds on this image",
        ),
        Example(
            "FROM debian:12-slim\nRUN apt-get update && apt-get install -y git\n", None, reason="no CMD or ENTRYPOINT"
        ),
        Example(
            'FROM debian:12-slim\nCOPY app /app\nCMD ["/app"]\n', None, path="Dockerfile.base", reason="names a base"
        ),
        # A data folder the new user must own is handed to it in the same change.
        Example(
            'FROM python:3.12-slim\nCOPY app.py /srv/\nVOLUME /var/lib/app\nCMD ["python", "/srv/app.py"]\n',
            "FROM python:3.12-slim\nCOPY app.py /srv/\n"
            "RUN groupadd --system --gid 10001 appuser && useradd --system --uid 10001 --gid appuser "
            "--no-log-init --create-home appuser && mkdir -p /var/lib/app && chown 10001:10001 /var/lib/app\n"
            'USER 10001:10001\nVOLUME /var/lib/app\nCMD ["python", "/srv/app.py"]\n',
            reason="volumes already deployed keep root-owned files",
        ),
        Example(
            'FROM node:22-slim\nWORKDIR /app\nCOPY . .\nENV DATA_DIR=/srv/data\nCMD ["node", "server.js"]\n',
            None,
            reason="ENV `/srv/data` (line 4) is not handed to `node`",
        ),
        # The stage already hands its files to a user: that user, rather than a new one.
        Example(
            'FROM php:8.3-cli\nCOPY . /srv\nRUN chown -R www-data:www-data /srv\nCMD ["php", "/srv/worker.php"]\n',
            'FROM php:8.3-cli\nCOPY . /srv\nRUN chown -R www-data:www-data /srv\nUSER www-data\nCMD ["php", "/srv/worker.php"]\n',
            reason="already hands files to `www-data`",
        ),
        # A later stage of the file builds on this one and runs RUN steps as root.
        Example(
            'FROM python:3.12-slim AS app\nCOPY . /app\nCMD ["python", "/app/main.py"]\n\n'
            "FROM app AS dev\nRUN pip install debugpy\n",
            None,
            files=(("compose.yaml", "services:\n  app:\n    build:\n      context: .\n      target: app\n"),),
            reason="stage `dev` builds on it and runs RUN steps (line 6)",
        ),
        # compose builds the `runtime` target: that stage is what ships, not the last one.
        Example(
            'FROM python:3.12-slim AS runtime\nCOPY . /app\nCMD ["python", "/app/main.py"]\n\n'
            "FROM runtime AS dev\nUSER root\nRUN pip install debugpy\n",
            "FROM python:3.12-slim AS runtime\nCOPY . /app\n"
            "RUN groupadd --system --gid 10001 appuser && useradd --system --uid 10001 --gid appuser "
            '--no-log-init --create-home appuser\nUSER 10001:10001\nCMD ["python", "/app/main.py"]\n\n'
            "FROM runtime AS dev\nUSER root\nRUN pip install debugpy\n",
            files=(("compose.yaml", "services:\n  app:\n    build:\n      context: .\n      target: runtime\n"),),
            reason="the target `compose.yaml` (service `app`) builds",
        ),
        Example(
            'FROM python:3.12-slim\nCOPY . /app\nEXPOSE 80\nCMD ["python", "/app/serve.py"]\n',
            None,
            reason="below 1024",
        ),
    )

    def check(self, document, context):
        for stage, shipped_by in _shipped_stages(document, context):
            yield from self._check_stage(document, stage, shipped_by, context)

    def _check_stage(self, document, stage, shipped_by, context):
        user, setter = users.inherited_user(stage)
        ref = stage.root_image
        profile = profile_for(ref, context.config.image_entries) if ref is not None and not ref.is_scratch else None
        if user is not None:
            if not users.is_root(user) or "$" in user:
                return
            where = f" (line {setter.start_line})" if setter.stage is stage else f" in stage `{setter.stage.alias}`"
            yield self.finding(
                setter.start_line,
                f"the final stage switches back to `USER {user}`",
                end_line=setter.end_line,
                fix_unavailable=f"`USER {user}`{where} is written on purpose: hardener never overrides it",
            )
            return
        if profile is not None and profile.runs_as_non_root:
            return
        anchor = stage.from_instruction
        name = f"stage `{stage.alias}`" if shipped_by else "the final stage"
        message = f"{name} runs as root: it has no USER instruction"
        evidence: list[str] = [f"`{stage.alias}` is the target {shipped_by} builds"] if shipped_by else []
        lines, reason = self._plan(document, stage, ref, profile, context, evidence)
        lines = list(lines)
        if lines and not any(i.keyword in ("CMD", "ENTRYPOINT") for s in stage.lineage for i in s.instructions):
            lines, reason = (
                [],
                (
                    "the final stage has no CMD or ENTRYPOINT of its own: it looks like a base for other images, "
                    "where a USER would change their RUN steps"
                ),
            )
        edit = None
        if lines:
            after = max(
                (i for i in stage.instructions if i.keyword in _BUILD_STEPS or i.keyword == "USER"),
                key=lambda i: i.index,
                default=stage.from_instruction,
            )
            cased = [keyword_case(document, line.split(" ", 1)[0]) + " " + line.split(" ", 1)[1] for line in lines]
            edit = insert_lines_after(document, after, cased)
            if edit is None:
                reason = "the last instruction ends with a line continuation: a new line would join it"
        yield self.finding(
            anchor.start_line,
            message,
            end_line=anchor.end_line,
            edits=[edit] if edit else None,
            description=f"added `{lines[-1]}`" + (" and created the user" if len(lines) > 1 else "") if edit else "",
            fix_unavailable=reason,
            evidence=tuple(evidence) if edit else (),
        )

    def _plan(self, document, stage, ref, profile, context, evidence) -> tuple[list[str], str | None]:
        """The lines to insert (maybe a RUN creating the user, then USER), or why not; `evidence` collects
        what the decision read."""
        config, repository = context.config, context.repository
        if profile is not None and profile.windows:
            return [], "Windows base image: user accounts work differently there"
        if any(i.keyword == "ONBUILD" for i in stage.instructions):
            return [], "the image is a base for other builds (ONBUILD): a USER would change their RUN steps"
        if profile is not None and profile.starts_as_root:
            return [], f"`{ref.text}` must start as root: {profile.starts_as_root}"
        base = _base_image_reason(document, stage, context, shipped=bool(evidence))
        if base:
            return [], base
        evidence.append("no other Dockerfile in the repository builds on this image")
        reason = users.needs_root_reason(stage)
        if reason:
            return [], reason
        contexts = contexts_for(context.path, contexts_of(repository, context.path))
        started = entrypoint_of(stage, repository, contexts)
        if started.needs_root:
            return [], f"{started.needs_root}: it must start as root"
        if started.unread:
            return [], f"{started.unread}: hardener cannot tell whether it must start as root"
        low_port = _privileged_port(stage)
        if low_port:
            return [], low_port
        if started.scripts:
            evidence.append(
                f"entrypoint {', '.join(f'`{p}`' for p in started.scripts)} read: it changes no users, ownership "
                "or privileges"
            )
        elif started.program:
            evidence.append(f"the container starts `{started.program}` directly, not a script from the repository")
        previous = users.earlier_non_root_user(stage)
        if previous:
            return self._owning([f"USER {previous}"], stage, previous, None, evidence)
        created = users.created_user(stage)
        if created and users.service_account(stage, created):
            return [], f"`{created}` is a service account (no login shell) that the service switches to itself"
        if created:
            evidence.append(f"the Dockerfile creates `{created}`")
            return self._owning([f"USER {created}"], stage, created, None, evidence)
        chowned = users.chowned_user(stage)
        if chowned and (profile is None or profile.shipped_user is None or profile.shipped_user.name == chowned):
            evidence.append(f"the Dockerfile already hands files to `{chowned}`")
            return self._owning([f"USER {chowned}"], stage, chowned, None, evidence)
        if ref is not None and ref.is_scratch:
            return self._owning(
                [f"USER {config.user_uid}:{config.user_uid}"], stage, str(config.user_uid), None, evidence
            )
        if profile is not None and profile.shipped_user is not None:
            if profile.shipped_user.name not in users.deleted_users(stage):
                evidence.append(f"`{ref.text}` ships the user `{profile.shipped_user.name}`")
                return self._owning(
                    [f"USER {profile.shipped_user.name}"], stage, profile.shipped_user.name, None, evidence
                )
        tools = (profile.user_tools if profile else None) or users.package_family(stage)
        what = f"`{ref.text}`" if ref is not None else "the base image (set by a variable)"
        if tools is None:
            return [], f"{what} is unknown: no way to know which user exists or how to create one"
        wrapper = users.privilege_wrapper(stage)
        if wrapper and profile is None and users.inherited_user(stage)[0] is None:
            # An unknown base image decides the user; RUN steps that need sudo say it is not root.
            return [], f"its RUN steps use {wrapper}, so {what} may run as a user that cannot create users"
        create = "RUN " + create_user_command(tools, config.user_name, config.user_uid)
        return self._owning(
            [create, f"USER {config.user_uid}:{config.user_uid}"], stage, config.user_name, config.user_uid, evidence
        )

    @staticmethod
    def _owning(lines, stage, user, uid, evidence) -> tuple[list[str], str | None]:
        """`lines`, once every data folder of the stage belongs to `user`: handed over in the RUN that creates
        the user (`uid` set), or the fix declines."""
        unowned = [(path, instr) for path, instr in users.data_paths(stage) if not users.owns(stage, path, user)]
        if not unowned:
            return lines, None
        paths = list(dict.fromkeys(path for path, _ in unowned))
        shown = ", ".join(f"`{p}`" for p in paths)
        if uid is None:
            path, instr = unowned[0]
            return [], (
                f"{instr.keyword} `{path}` (line {instr.start_line}) is not handed to `{user}`: the process could "
                "not write its data there"
            )
        quoted = " ".join(paths)
        lines = [lines[0] + f" && mkdir -p {quoted} && chown {uid}:{uid} {quoted}", *lines[1:]]
        evidence.append(
            f"data folders {shown} are handed to the new user in the same RUN; volumes already deployed keep "
            f"root-owned files: run `chown -R {uid}:{uid}` on them once (for example `docker run --rm -u 0 "
            f"-v VOLUME:{paths[0]} IMAGE chown -R {uid}:{uid} {paths[0]}`)"
        )
        return lines, None


_BASE_WORDS = re.compile(r"(^|[-_.])(base|baseimage|builder|build-env|buildenv|toolchain)([-_.]|$)", re.I)


def _base_image_reason(document, stage, context, shipped: bool = False) -> str | None:
    """Why the image looks like a base for other builds, where a USER breaks their RUN steps, or None."""
    for later in document.stages:
        if later is not stage and stage in later.lineage:
            for instr in later.instructions:
                if instr.keyword == "USER":
                    break
                if instr.keyword == "RUN":
                    return (
                        f"stage `{later.alias or later.index}` builds on it and runs RUN steps (line "
                        f"{instr.start_line}): a USER here would change them"
                    )
    found = consumers(context.repository, context.path)
    if found:
        path, image = found[0]
        return f"`{path}` builds on this image (`FROM {image}`): a USER here would change its RUN steps"
    name = context.path.rsplit("/", 1)[-1] or document.path.rsplit("/", 1)[-1]
    folder = context.path.rsplit("/", 2)[-2] if context.path.count("/") else ""
    # A stage a build names as its target is shipped, whatever it is called.
    for word in (name, folder, "" if shipped else stage.alias or ""):
        if word and word.lower() != "dockerfile" and _BASE_WORDS.search(word.lower().removeprefix("dockerfile")):
            return f"`{word}` names a base or build image: a USER there would change the RUN steps built on it"
    return None


def _privileged_port(stage) -> str | None:
    for s in stage.lineage:
        for instr in s.instructions:
            if instr.keyword == "EXPOSE":
                for value in instr.value:
                    port = value.split("/", 1)[0].split("-", 1)[0]
                    if port.isdigit() and 0 < int(port) < 1024:
                        return (
                            f"EXPOSE {value} (line {instr.start_line}): a non-root process can bind a port below "
                            "1024 only where the runtime allows it (Docker 20.10 and later do; Kubernetes and "
                            "older engines do not)"
                        )
    return None


def _shipped_stages(document, context):
    """(stage, where it is named) for the targets builds name in this file; else the final stage."""
    named = []
    for target, where in shipped_targets(context.repository, context.path).items():
        stage = document.stage_named(target)
        if stage is not None and stage is not document.final_stage:
            named.append((stage, where))
    return named or [(document.final_stage, None)]
