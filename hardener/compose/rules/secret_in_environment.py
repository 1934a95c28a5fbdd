from __future__ import annotations

import re

from hardener.compose.services import image, is_true
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
        "repository. For images whose entrypoint reads `NAME_FILE` (official postgres, mysql, mariadb) the "
        "fix hands the value over as a compose secret taken from the variable NAME (`secrets:` with "
        "`environment: NAME`, Compose 2.23 or newer), so it is a file under /run/secrets and not in the "
        "container's environment. Elsewhere it replaces the value with `${NAME:?NAME must be set}`, so Compose "
        "takes it from the environment or an untracked .env file and refuses to start without it; a URL or other value in "
        "the file that holds the same secret takes it from the same variable, and when the secret is also "
        "somewhere the fix cannot reach (an `.env` file, a healthcheck) nothing changes. Development, test and "
        "example files keep their credentials (reported only). Set the variable before "
        "you deploy (and rotate the secret: it is in the history). hardener never prints the value."
    )
    references = ("CIS Docker Benchmark v1.6 4.10", "KICS c3e1b6ae")
    valid = (
        "services:\n  db:\n    image: postgres:16\n    environment:\n      POSTGRES_PASSWORD: ${DB_PASSWORD}\n",
        "services:\n  db:\n    image: postgres:16\n    environment:\n      - POSTGRES_PASSWORD_FILE=/run/secrets/db\n",
    )
    invalid = (
        # An image that reads KEY_FILE gets the value as a compose secret: a file, not its environment.
        Example(
            "services:\n  db:\n    image: postgres:16\n    environment:\n      POSTGRES_USER: app\n"
            "      POSTGRES_PASSWORD: example  # change me\n",
            "services:\n  db:\n    image: postgres:16\n    environment:\n      POSTGRES_USER: app\n"
            "      POSTGRES_PASSWORD_FILE: /run/secrets/postgres_password  # change me\n"
            "    secrets:\n      - postgres_password\n"
            "secrets:\n  postgres_password:\n    environment: POSTGRES_PASSWORD\n",
            reason="reads POSTGRES_PASSWORD_FILE",
        ),
        # Other images take it from a variable that Compose insists on.
        Example(
            "services:\n  api:\n    image: example/api:1\n    environment:\n      - API_TOKEN=abc123\n",
            "services:\n  api:\n    image: example/api:1\n    environment:\n"
            '      - "API_TOKEN=${API_TOKEN:?API_TOKEN must be set}"\n',
            reason="before `docker compose up`, set API_TOKEN",
        ),
        # The other half of the credential changes with it: the URL the application connects with.
        Example(
            "services:\n  db:\n    image: postgres:16\n    environment:\n      POSTGRES_PASSWORD: s3cretpw\n"
            "  app:\n    image: example/app:1\n    environment:\n      DATABASE_URL: postgres://app:s3cretpw@db/app\n",
            "services:\n  db:\n    image: postgres:16\n    environment:\n"
            "      POSTGRES_PASSWORD_FILE: /run/secrets/postgres_password\n    secrets:\n      - postgres_password\n"
            "  app:\n    image: example/app:1\n    environment:\n      DATABASE_URL: postgres://app:${POSTGRES_PASSWORD}@db/app\n"
            "secrets:\n  postgres_password:\n    environment: POSTGRES_PASSWORD\n",
            reason="DATABASE_URL holds the same value",
        ),
        # Secrets the file already declares: the new one joins them.
        Example(
            "services:\n  db:\n    image: mariadb:11\n    environment:\n      - MARIADB_ROOT_PASSWORD=s3cretpw\n"
            "    secrets:\n      - tls_key\nsecrets:\n  tls_key:\n    file: ./tls.key\n",
            "services:\n  db:\n    image: mariadb:11\n    environment:\n"
            "      - MARIADB_ROOT_PASSWORD_FILE=/run/secrets/mariadb_root_password\n"
            "    secrets:\n      - tls_key\n      - mariadb_root_password\nsecrets:\n  tls_key:\n    file: ./tls.key\n"
            "  mariadb_root_password:\n    environment: MARIADB_ROOT_PASSWORD\n",
        ),
        # An environment other services share would lose the value in them: plain interpolation instead.
        Example(
            "services:\n  db:\n    image: postgres:16\n    environment: &db-env\n      POSTGRES_PASSWORD: s3cretpw\n"
            "  replica:\n    image: postgres:16\n    environment: *db-env\n",
            "services:\n  db:\n    image: postgres:16\n    environment: &db-env\n"
            '      POSTGRES_PASSWORD: "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD must be set}"\n'
            "  replica:\n    image: postgres:16\n    environment: *db-env\n",
        ),
        # The same value somewhere hardener cannot change with it: neither changes.
        Example(
            "services:\n  db:\n    image: postgres:16\n    environment:\n      POSTGRES_PASSWORD: s3cretpw\n"
            "    healthcheck:\n      test: pg_isready --password s3cretpw\n",
            None,
            reason="also on line 7",
        ),
        Example(
            "services:\n  db:\n    image: postgres:16\n    environment:\n      POSTGRES_PASSWORD: s3cretpw\n",
            None,
            files=((".env", "DATABASE_URL=postgres://app:s3cretpw@db/app\n"),),
            reason="`.env` line 1 holds the same value",
        ),
        # A development stack keeps its dev password: moving it out would stop `docker compose up`.
        Example(
            "services:\n  db:\n    image: postgres:16\n    environment:\n      POSTGRES_PASSWORD: devpass\n",
            None,
            path="docker-compose.dev.yml",
            reason="development file",
        ),
    )

    def check(self, document, context):
        seen: set[int] = set()
        taken: dict[str, str] = {}
        entries = list(_environment_entries(document))
        for service, key, node, value, in_list in entries:
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
            partners, elsewhere = _other_half(document, entries, node, value)
            if elsewhere:
                yield self.finding(
                    node.line,
                    message,
                    fix_unavailable=f"the same value is also {elsewhere}: change both together, or neither",
                )
                continue
            outside = _in_repository_files(context, value, name)
            if outside:
                yield self.finding(
                    node.line,
                    message,
                    fix_unavailable=f"{outside} holds the same value: change both together, or neither",
                )
                continue
            secret_form = _secret_file_form(document, service, key, node, in_list, name)
            evidence = []
            if secret_form is not None:
                edits, owned, secret = secret_form
                owns = list(owned)
                evidence.append(
                    f"`{image(service)}` reads {key}_FILE: the value goes to the container as the compose secret "
                    f"`{secret}` (a file under /run/secrets, not in its environment), taken from {name} "
                    "(Compose 2.23 or newer)"
                )
            else:
                reference = f"${{{name}:?{name} must be set}}"
                text = _double_quoted(f"{key}={reference}") if in_list else f'"{reference}"'
                # A block scalar's extent includes its line break: replace only up to its last character.
                end = document.content_end(node) if node.style in ("|", ">") else node.end
                edits = [Edit(node.start, end, text)]
                owns = [f"services.*.environment.{key}"]  # an anchored value reaches every user
            for partner_key, start, stop in partners:
                edits.append(Edit(start, stop, f"${{{name}}}"))
                owns.append(f"services.*.environment.{partner_key}")
                evidence.append(f"{partner_key} holds the same value and now takes it from {name} too")
            evidence.append(_before_up(context, name, secret_form is not None))
            yield self.finding(
                node.line,
                message,
                edits=edits,
                description=(
                    f"moved {key} to the compose secret {secret}, from the variable {name}"
                    if secret_form
                    else f"moved {key} to the variable {name}"
                )
                + (f" (and {', '.join(p[0] for p in partners)} with it)" if partners else ""),
                owns=tuple(owns),
                requires=(name,),
                evidence=tuple(evidence),
            )


def secrets_from_environment(document, service, moved_too: bool = True) -> list[str]:
    """The compose secrets this service gets from an environment variable, or would get from this rule
    (a literal secret its image reads as KEY_FILE, when `moved_too`). Compose writes such a secret into the container
    when it starts, which a read-only root file system refuses."""
    from hardener.compose.services import list_values
    from hardener.images import ImageRef, facts_for

    root = document.root
    top = next((v for k, v in root.items if k.value == "secrets"), None) if root is not None else None
    from_environment = set()
    if top is not None and top.kind == "map":
        for key, definition in top.items:
            definition = definition.resolved
            if definition.kind == "map" and any(k.value == "environment" for k, _ in definition.items):
                from_environment.add(key.value)
    found = [name for name in list_values(service, "secrets") if name in from_environment]
    reference = image(service)
    reads_files = facts_for(ImageRef.parse(reference)).get("secret-files", ()) if reference and moved_too else ()
    for owner, key, node, value, _ in _environment_entries(document):
        if owner is service and key in reads_files and looks_secret(key) and node.kind == "scalar" and _literal(value):
            found.append(f"{key}, which HD206 moves to one")
    return found


def _environment_entries(document):
    """(service, key, value node, value, written as KEY=value) for each environment entry of each service."""
    for service in document.services:
        environment = service.get("environment")
        if environment is None:
            continue
        env = environment.resolved
        if env.kind == "map":
            for k, v in env.items:
                if k.kind == "scalar":
                    yield service, k.value, v.resolved, v.resolved.value, False
        elif env.kind == "seq":
            for item in env.items:
                item = item.resolved
                if item.kind == "scalar" and "=" in item.value:
                    key, _, value = item.value.partition("=")
                    yield service, key, item, value, True


def _key_node(service, value_node):
    """The key node of an entry in the service's own `environment:` mapping."""
    own = service.node.own("environment") if not service.is_alias else None
    if is_true(service, "read_only"):
        return None  # Compose cannot write an environment-sourced secret into a read-only container
    if own is None or own[1].kind != "map":
        return None
    return next((k for k, v in own[1].items if v is value_node), None)


def _secret_file_form(document, service, key: str, node, in_list: bool, variable: str):
    """Edits that hand the value to the image as a compose secret (`KEY_FILE=/run/secrets/name`, the
    service's `secrets:`, a top-level secret taken from `variable`), with the paths they own; or None
    when the image reads no KEY_FILE or the file's shape leaves any doubt (then plain interpolation)."""
    from hardener.compose.edits import _insert_lines, add_keys
    from hardener.compose.fixes import ensure_lists
    from hardener.compose.services import image, is_true
    from hardener.images import ImageRef, facts_for

    reference = image(service)
    if not reference or key not in facts_for(ImageRef.parse(reference)).get("secret-files", ()):
        return None
    own = service.node.own("environment") if not service.is_alias else None
    if is_true(service, "read_only"):
        return None  # Compose cannot write an environment-sourced secret into a read-only container
    if own is None or own[1].anchor or own[1].tag or document.services_using("environment", own[1]) != [service]:
        return None  # an environment other services share would lose the value without the secret
    environment = own[1]
    keys = [k for k, _v in environment.items] if environment.kind == "map" else []
    written = {k.value for k in keys} | {
        (i.value or "").partition("=")[0] for i in (environment.items if environment.kind == "seq" else [])
    }
    if f"{key}_FILE" in written:
        return None
    secret = variable.lower()
    root = document.root
    top = next((v for k, v in root.items if k.value == "secrets"), None) if root is not None else None
    if top is not None and (top.kind != "map" or top.flow or any(k.value == secret for k, _v in top.items)):
        return None
    target = f"/run/secrets/{secret}"
    if in_list:
        if node.style not in (None, '"', "'"):
            return None
        entry = [Edit(node.start, node.end, f"{key}_FILE={target}")]
    else:
        key_node = _key_node(service, node)
        if key_node is None or key_node.style is not None or node.style in ("|", ">"):
            return None
        entry = [Edit(key_node.start, key_node.end, f"{key}_FILE"), Edit(node.start, node.end, target)]
    style = document.style.for_mapping(service.mapping)
    service_edits, reason = ensure_lists(document, service, {"secrets": [secret]}, style)
    if reason or not service_edits:
        return None
    definition = {secret: {"environment": variable}}
    if top is not None:
        declared = add_keys(document, top, definition, style)
        if declared is None:
            return None
    else:
        lines = ["secrets:", *_definition_lines(secret, variable, style.indent)]
        declared = _insert_lines(document, len(document.text), lines)
    edits = entry + service_edits
    # The service's new key and the new top-level block may both go at the end of the file: one edit.
    same = next((e for e in service_edits if e.start == e.end == declared.start), None)
    if same is not None:
        edits.remove(same)
        declared = Edit(declared.start, declared.end, same.content + declared.content)
    edits.append(declared)
    owns = (
        f"services.*.environment.{key}",
        f"services.*.environment.{key}_FILE",
        *document.owned_keys_of([service], "secrets"),
        f"secrets.{secret}" if top is not None else "secrets",  # a new top level appears as a whole
    )
    return edits, owns, secret


def _definition_lines(secret: str, variable: str, indent: int) -> list[str]:
    pad = " " * indent
    return [f"{pad}{secret}:", f"{pad}{pad}environment: {variable}"]


# Shorter values match too much of a file to be the same secret.
MIN_PAIRED_LENGTH = 4


def _other_half(document, entries, node, value: str):
    """([(key, start, end)] of the same literal as the password of a URL in another environment value (a
    DATABASE_URL), and where else in the file it appears, if anywhere but such URLs and other secret-named
    keys (which get findings of their own)."""
    if len(value) < MIN_PAIRED_LENGTH:
        return [], None
    text = document.text
    spans = {id(n): (key, n) for _service, key, n, _v, _l in entries if n.kind == "scalar" and n is not node}
    partners, elsewhere = [], None
    start = text.find(value)
    while start != -1:
        stop = start + len(value)
        if not (node.start <= start < node.end):
            owner = next(((k, n) for k, n in spans.values() if n.start <= start and stop <= n.end), None)
            raw = text[owner[1].start : owner[1].end] if owner is not None else ""
            in_url = "://" in raw and text[start - 1 : start] == ":" and text[stop : stop + 1] == "@"
            if owner is not None and not in_url and looks_secret(owner[0]):
                pass  # another secret-named key with the same value: it gets a finding of its own
            elif owner is None or not in_url or "\\" in raw:
                line = text.count("\n", 0, start) + 1
                elsewhere = f"on line {line}" + (f" ({owner[0]})" if owner else "")
                break
            elif (owner[0], start, stop) not in partners:
                partners.append((owner[0], start, stop))
        start = text.find(value, stop)
    return partners, elsewhere


def _in_repository_files(context, value: str, name: str) -> str | None:
    """An `.env` file or another compose file of the repository that holds the same literal under another name."""
    import posixpath

    if len(value) < MIN_PAIRED_LENGTH:
        return None
    for path in sorted(context.repository.files):
        if path == context.path:
            continue
        base = posixpath.basename(path).lower()
        if not (base == ".env" or base.startswith(".env.") or base.endswith((".yml", ".yaml"))):
            continue
        for number, line in enumerate(context.repository.files[path].splitlines(), 1):
            if value in line:
                if base.startswith(".env") and line.strip().startswith(f"{name}="):
                    continue  # the variable the fix introduces, already set there
                return f"`{path}` line {number}"
    return None


def _before_up(context, name: str, as_secret: bool = False) -> str:
    """What `docker compose up` needs once the value is a variable, and whether the repository gives it."""
    import posixpath

    folder = posixpath.dirname(context.path)
    env = posixpath.join(folder, ".env") if folder else ".env"
    text = context.repository.files.get(env, "")
    if re.search(rf"^\s*(export\s+)?{re.escape(name)}=", text, re.M):
        return f"`{env}` already sets {name}, so `docker compose up` still finds it"
    if as_secret:
        return (
            f"before `docker compose up`, set {name} in the environment or in an untracked `{env}`"
            " (without it the secret is empty and the database does not initialise)"
        )
    return (
        f"before `docker compose up`, set {name} in the environment or in an untracked `{env}`"
        " (or Compose stops with the message it names)"
    )
