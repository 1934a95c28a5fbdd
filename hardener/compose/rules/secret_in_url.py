from __future__ import annotations

import re

from hardener.compose.services import environment_values
from hardener.model import Severity
from hardener.rules.base import Example, Rule
from hardener.secret_names import looks_secret

# scheme://user:password@host: a password is there when the userinfo has a colon.
_URL_PASSWORD = re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s:/@]*:(?P<password>[^\s@/]+)@", re.IGNORECASE)


def literal_url_password(value: str) -> bool:
    """The value holds a URL whose password is written out (not `${VAR}` interpolation)."""
    for match in _URL_PASSWORD.finditer(value):
        password = match.group("password").replace("$$", "")
        if "$" not in password:
            return True
    return False


class SecretInUrl(Rule):
    id = "HD216"
    name = "secret-in-url"
    kind = "compose"
    summary = "Do not write passwords into connection URLs"
    severity = Severity.ERROR
    rationale = (
        "`DATABASE_URL: postgres://app:s3cret@db/app` puts the password in every clone of the repository, as "
        "a literal password would be, but under a name that secret scanners and HD206 do not recognise. Take "
        "the password from a variable (`postgres://app:${DB_PASSWORD}@db/app`) or, where the application "
        "reads one, from a secret file. hardener reports this only, and moves the URL's password with HD206 "
        "when the same password is set in a secret-named key of the file. Keys whose names say they hold "
        "secrets are left to HD206."
    )
    references = ("CIS Docker Benchmark v1.6 4.10",)
    valid = (
        "services:\n  app:\n    image: example/app:1\n    environment:\n      DATABASE_URL: postgres://app:${DB_PASSWORD}@db/app\n",
        "services:\n  app:\n    image: example/app:1\n    environment:\n      DATABASE_URL: postgres://app@db/app\n",
        "services:\n  app:\n    image: example/app:1\n    environment:\n      - UPSTREAM=https://example.com:8443/api\n",
    )
    invalid = (
        Example(
            "services:\n  app:\n    image: example/app:1\n    environment:\n      DATABASE_URL: postgres://app:s3cret@db/app\n"
        ),
        Example(
            "services:\n  app:\n    image: example/app:1\n    environment:\n      - REDIS_URL=redis://:hunter2@cache:6379/0\n"
        ),
        Example(
            "services:\n  worker:\n    image: example/worker:1\n    environment:\n"
            "      BROKER: amqp://guest:guest@rabbitmq:5672//\n"
        ),
    )

    def check(self, document, context):
        for service in document.standalone_services:
            for name, value in environment_values(service):
                if not looks_secret(name) and literal_url_password(value):
                    node = service.get("environment")
                    yield self.finding(
                        node.line if node is not None else service.key.line,
                        f"service {service.name!r} writes a password into the URL in {name}",
                    )
