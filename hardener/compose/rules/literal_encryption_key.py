from __future__ import annotations

import re

from hardener.compose.services import environment_values
from hardener.model import Severity
from hardener.rules.base import Example, Rule
from hardener.secret_names import looks_secret

# Names of keys that hold key material, which `looks_secret` (HD206) does not already cover.
_KEY_NAME = re.compile(
    r"(^|_)(ENC|ENCRYPTION|SIGNING|MASTER|CIPHER|CRYPT|HMAC|JWT|SESSION|COOKIE|AES|FERNET)_?KEY(S)?($|_)", re.IGNORECASE
)


def holds_key(name: str) -> bool:
    return bool(_KEY_NAME.search(name)) and not looks_secret(name) and not name.upper().endswith(("_FILE", "_PATH"))


class LiteralEncryptionKey(Rule):
    id = "HD217"
    name = "literal-encryption-key"
    kind = "compose"
    summary = "Do not write encryption and signing keys into the compose file"
    severity = Severity.ERROR
    rationale = (
        "An encryption, signing or session key written in the compose file is in every clone of the "
        "repository: anyone with it can decrypt stored data or forge sessions and tokens. Generate the key "
        "per deployment and pass it through a variable or a secret file. hardener reports this only: "
        "changing a key that already encrypted data makes that data unreadable, so the move needs a plan."
    )
    references = ("CIS Docker Benchmark v1.6 4.10",)
    valid = (
        "services:\n  app:\n    image: example/app:1\n    environment:\n      APP_ENC_KEY: ${APP_ENC_KEY:?set it}\n",
        "services:\n  app:\n    image: example/app:1\n    environment:\n      APP_ENC_KEY_FILE: /run/secrets/enc\n",
        "services:\n  app:\n    image: example/app:1\n    environment:\n      KEYCLOAK_URL: http://kc:8080\n",
    )
    invalid = (
        Example(
            "services:\n  app:\n    image: example/app:1\n    environment:\n      N8N_ENCRYPTION_KEY: 0f3a9c2b7d\n"
        ),
        Example("services:\n  app:\n    image: example/app:1\n    environment:\n      - DB_ENC_KEY=c2VjcmV0a2V5\n"),
        Example(
            "services:\n  app:\n    image: example/app:1\n    environment:\n      JWT_SIGNING_KEY: devsigningkey\n"
        ),
    )

    def check(self, document, context):
        for service in document.standalone_services:
            for name, value in environment_values(service):
                if holds_key(name) and value and "$" not in value.replace("$$", ""):
                    node = service.get("environment")
                    yield self.finding(
                        node.line if node is not None else service.key.line,
                        f"service {service.name!r} sets the key {name} to a literal value",
                    )
