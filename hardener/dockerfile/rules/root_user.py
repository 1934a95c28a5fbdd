from __future__ import annotations

from hardener.dockerfile import users
from hardener.dockerfile.edits import insert_lines_after
from hardener.dockerfile.style import keyword_case
from hardener.images import profile_for
from hardener.model import Edit, Severity, Tier
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
        Example(
            'FROM alpine:3.20\nRUN adduser -D worker\nUSER worker\nRUN echo built\nUSER root\nCMD ["sh"]\n',
            'FROM alpine:3.20\nRUN adduser -D worker\nUSER worker\nRUN echo built\nUSER worker\nCMD ["sh"]\n',
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
    )

    def check(self, document, context):
        stage = document.final_stage
        user, setter = users.inherited_user(stage)
        ref = stage.root_image
        profile = profile_for(ref, context.config.image_entries) if ref is not None and not ref.is_scratch else None
        if user is not None:
            if not users.is_root(user) or "$" in user:
                return
        elif profile is not None and profile.runs_as_non_root:
            return
        anchor = setter if setter is not None and setter.stage is stage else stage.from_instruction
        message = (
            f"the final stage switches back to `USER {user}`"
            if user is not None
            else "the final stage runs as root: it has no USER instruction"
        )
        lines, reason = self._plan(stage, ref, profile, context.config)
        lines = list(lines)
        edit = None
        if lines:
            after = max(
                (i for i in stage.instructions if i.keyword in _BUILD_STEPS or i.keyword == "USER"),
                key=lambda i: i.index,
                default=stage.from_instruction,
            )
            cased = [keyword_case(document, line.split(" ", 1)[0]) + " " + line.split(" ", 1)[1] for line in lines]
            if after is setter and len(cased) == 1:
                # Nothing after `USER root` needs root: switch to the existing user right there.
                edit = Edit(setter.start, setter.end, cased[0])
            else:
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
        )

    def _plan(self, stage, ref, profile, config) -> tuple[list[str], str | None]:
        """The lines to insert (maybe a RUN creating the user, then USER), or why not."""
        if profile is not None and profile.windows:
            return [], "Windows base image: user accounts work differently there"
        if any(i.keyword == "ONBUILD" for i in stage.instructions):
            return [], "the image is a base for other builds (ONBUILD): a USER would change their RUN steps"
        if profile is not None and profile.starts_as_root:
            return [], f"`{ref.text}` must start as root: {profile.starts_as_root}"
        reason = users.needs_root_reason(stage)
        if reason:
            return [], reason
        previous = users.earlier_non_root_user(stage)
        if previous:
            return [f"USER {previous}"], None
        created = users.created_user(stage)
        if created and users.service_account(stage, created):
            return [], f"`{created}` is a service account (no login shell) that the service switches to itself"
        if created:
            return [f"USER {created}"], None
        if ref is not None and ref.is_scratch:
            return [f"USER {config.user_uid}:{config.user_uid}"], None
        if profile is not None and profile.shipped_user is not None:
            if profile.shipped_user.name not in users.deleted_users(stage):
                return [f"USER {profile.shipped_user.name}"], None
        tools = (profile.user_tools if profile else None) or users.package_family(stage)
        what = f"`{ref.text}`" if ref is not None else "the base image (set by a variable)"
        if tools is None:
            return [], f"{what} is unknown: no way to know which user exists or how to create one"
        wrapper = users.privilege_wrapper(stage)
        if wrapper and profile is None and users.inherited_user(stage)[0] is None:
            # An unknown base image decides the user; RUN steps that need sudo say it is not root.
            return [], f"its RUN steps use {wrapper}, so {what} may run as a user that cannot create users"
        return [
            "RUN " + create_user_command(tools, config.user_name, config.user_uid),
            f"USER {config.user_uid}:{config.user_uid}",
        ], None
