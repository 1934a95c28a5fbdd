from __future__ import annotations

from hardener.compose.services import environment_values
from hardener.model import Severity
from hardener.rules.base import Example, Rule

_TRUE = ("yes", "true", "1", "on")


def _no_password_reason(name: str, value: str) -> str | None:
    key, val = name.upper(), value.strip().strip("'\"").lower()
    if key == "POSTGRES_HOST_AUTH_METHOD" and val == "trust":
        return "POSTGRES_HOST_AUTH_METHOD=trust lets every connection in without a password"
    if key in ("MYSQL_ALLOW_EMPTY_PASSWORD", "MARIADB_ALLOW_EMPTY_ROOT_PASSWORD", "MARIADB_ALLOW_EMPTY_PASSWORD"):
        if val in _TRUE:
            return f"{name} gives the database's root user an empty password"
    return None


class DatabaseTrustAuth(Rule):
    id = "HD218"
    name = "database-trust-auth"
    kind = "compose"
    summary = "Do not let database connections in without a password"
    severity = Severity.ERROR
    rationale = (
        "`POSTGRES_HOST_AUTH_METHOD=trust` and `MYSQL_ALLOW_EMPTY_PASSWORD=yes` make the database accept any "
        "connection that reaches it, as any user, with no password: every other container on the network, "
        "and the host when the port is published. Set a password (from a variable or a secret file) and "
        "remove the setting. hardener reports this only: the clients need the password too."
    )
    references = ("CIS Docker Benchmark v1.6 4.10",)
    valid = (
        "services:\n  db:\n    image: postgres:16\n    environment:\n      POSTGRES_HOST_AUTH_METHOD: scram-sha-256\n",
        "services:\n  db:\n    image: mysql:8.4\n    environment:\n      MYSQL_RANDOM_ROOT_PASSWORD: 'yes'\n",
    )
    invalid = (
        Example("services:\n  db:\n    image: postgres:16\n    environment:\n      POSTGRES_HOST_AUTH_METHOD: trust\n"),
        Example(
            "services:\n  db:\n    image: postgres:16\n    environment:\n      - POSTGRES_HOST_AUTH_METHOD=trust\n"
        ),
        Example("services:\n  db:\n    image: mysql:8.4\n    environment:\n      MYSQL_ALLOW_EMPTY_PASSWORD: 'yes'\n"),
        Example(
            "services:\n  db:\n    image: mariadb:11\n    environment:\n      MARIADB_ALLOW_EMPTY_ROOT_PASSWORD: 1\n"
        ),
    )

    def check(self, document, context):
        for service in document.standalone_services:
            for name, value in environment_values(service):
                reason = _no_password_reason(name, value)
                if reason:
                    node = service.get("environment")
                    yield self.finding(
                        node.line if node is not None else service.key.line, f"service {service.name!r}: {reason}"
                    )
