from __future__ import annotations

import re

from hardener.model import Edit, Severity, Tier
from hardener.rules.base import Example, Rule
from hardener.secret_names import looks_secret


def _literal(value: str | None) -> bool:
    """A value written in the file, not taken from the environment."""
    if not value:
        return False
    return "$" not in value.replace("$$", "")


def _variable_for(service: str, key: str, taken: dict[str, str], value: str) -> str:
    """A valid, unused variable name; the same literal value keeps the same name."""
    for candidate in (key, f"{service}_{key}"):
        name = re.sub(r"[^A-Za-z0-9_]", "_", candidate).upper()
        name = f"_{name}" if name[:1].isdigit() else name
        if taken.setdefault(name, value) == value:
            return name
    n = 2
    while taken.setdefault(f"{name}_{n}", value) != value:
        n += 1
    return f"{name}_{n}"


def _double_quoted(text: str) -> str:
    """A YAML double-quoted scalar holding text exactly."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


class SecretInEnvironment(Rule):
    id = "HD206"
    name = "secret-in-environment"
    kind = "compose"
    summary = "Move literal secrets out of `environment:` into variables"
    severity = Severity.ERROR
    tier = Tier.BEHAVIOUR_CHANGING
    rationale = (
        "A password or token written in a compose file is in every clone, fork and backup of the "
        "repository. The fix replaces the value with `${NAME:?NAME must be set}`, so Compose takes it from "
        "the environment or an untracked .env file and refuses to start without it. Set the variable before "
        "you deploy (and rotate the secret: it is in the history). hardener never prints the value."
    )
    references = ("CIS Docker Benchmark v1.6 4.10", "KICS c3e1b6ae")
    valid = (
        "services:\n  db:\n    image: postgres:16\n    environment:\n      POSTGRES_PASSWORD: ${DB_PASSWORD}\n",
        "services:\n  db:\n    image: postgres:16\n    environment:\n      - POSTGRES_PASSWORD_FILE=/run/secrets/db\n",
    )
    invalid = (
        Example(
            "services:\n  db:\n    image: postgres:16\n    environment:\n      POSTGRES_USER: app\n"
            "      POSTGRES_PASSWORD: example  # change me\n",
            "services:\n  db:\n    image: postgres:16\n    environment:\n      POSTGRES_USER: app\n"
            '      POSTGRES_PASSWORD: "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD must be set}"  # change me\n',
        ),
        Example(
            "services:\n  api:\n    image: example/api:1\n    environment:\n      - API_TOKEN=abc123\n",
            "services:\n  api:\n    image: example/api:1\n    environment:\n"
            '      - "API_TOKEN=${API_TOKEN:?API_TOKEN must be set}"\n',
        ),
    )

    def check(self, document, context):
        seen: set[int] = set()
        taken: dict[str, str] = {}
        for service in document.services:
            environment = service.get("environment")
            if environment is None:
                continue
            env = environment.resolved
            pairs = []
            if env.kind == "map":
                pairs = [(k.value, v.resolved, v.resolved.value, False) for k, v in env.items if k.kind == "scalar"]
            elif env.kind == "seq":
                for item in env.items:
                    item = item.resolved
                    if item.kind == "scalar" and "=" in item.value:
                        key, _, value = item.value.partition("=")
                        pairs.append((key, item, value, True))
            for key, node, value, in_list in pairs:
                if node.kind != "scalar" or id(node) in seen or not looks_secret(key) or not _literal(value):
                    continue
                seen.add(id(node))
                message = f"service {service.name!r} sets {key} to a literal secret"
                if node.anchor or node.tag:
                    yield self.finding(
                        node.line, message, fix_unavailable="the value is anchored or tagged and may be reused"
                    )
                    continue
                name = _variable_for(service.name, key, taken, value)
                reference = f"${{{name}:?{name} must be set}}"
                text = _double_quoted(f"{key}={reference}") if in_list else f'"{reference}"'
                # A block scalar's extent includes its line break: replace only up to its last character.
                end = document.content_end(node) if node.style in ("|", ">") else node.end
                yield self.finding(
                    node.line,
                    message,
                    edits=[Edit(node.start, end, text)],
                    description=f"moved {key} to the variable {name}",
                    owns=(f"services.*.environment.{key}",),  # an anchored value reaches every user
                    requires=(name,),
                )
