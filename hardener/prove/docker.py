"""The edge that starts compose stacks on a Docker daemon, for `hardener prove`.

Each start is a throwaway project (`hardener-prove-<random>`): the candidate file is written to a
temporary folder and named with `-f`, with the repository folder as the project directory, so
relative builds and mounts resolve as they would and nothing is written into the repository.
Compose runs with a small environment of its own (no token, nothing of the caller's but PATH, HOME
and the Docker connection) plus throwaway values for the variables the fixes require. Whatever
happens, `down --volumes --remove-orphans --rmi local` removes what the project made.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import tempfile
import time

from hardener.prove.core import ServiceState

SETTLE_SECONDS = 3  # after `up --wait`: long enough to see a service that exits or restarts at once
_PASSED = ("PATH", "HOME", "DOCKER_HOST", "DOCKER_CONFIG", "DOCKER_CERT_PATH", "DOCKER_TLS_VERIFY", "TMPDIR")


def daemon_problem(docker: str = "docker") -> str | None:
    """Why no daemon can be used, or None when one answers."""
    try:
        done = subprocess.run(
            [docker, "info", "--format", "{{.ServerVersion}}"],
            capture_output=True,
            text=True,
            timeout=20,
            env=_environment({}),
        )
    except FileNotFoundError:
        return "the docker command is not installed"
    except subprocess.TimeoutExpired:
        return "the Docker daemon did not answer within 20 s"
    if done.returncode != 0 or not done.stdout.strip():
        return (
            "no Docker daemon is reachable (" + (done.stderr.strip().splitlines() or ["docker info failed"])[-1] + ")"
        )
    return None


def _environment(variables: dict[str, str]) -> dict[str, str]:
    env = {k: os.environ[k] for k in _PASSED if k in os.environ}
    env.update(variables)
    return env


class ComposeRuntime:
    """Starts a stack, observes each service, and removes it again."""

    def __init__(self, project_directory: str, compose: tuple[str, ...], wait_seconds: int = 60):
        self.project_directory = project_directory
        self.compose = compose
        self.wait_seconds = wait_seconds
        self.projects: list[str] = []  # every project started, for the tests' cleanup check

    def start(self, compose_text: str, variables: dict[str, str]) -> dict[str, ServiceState]:
        project = f"hardener-prove-{secrets.token_hex(4)}"
        self.projects.append(project)
        env = _environment(variables)
        with tempfile.TemporaryDirectory(prefix="hardener-prove-") as folder:
            path = os.path.join(folder, "compose.yaml")
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(compose_text)
            base = [*self.compose, "-p", project, "-f", path, "--project-directory", self.project_directory]
            try:
                self._compose(base, ["up", "-d", "--build", "--wait", "--wait-timeout", str(self.wait_seconds)], env)
                time.sleep(SETTLE_SECONDS)
                return self._observe(base, env)
            finally:
                self._compose(base, ["down", "--volumes", "--remove-orphans", "--rmi", "local", "-t", "2"], env)

    def _compose(self, base, arguments, env) -> subprocess.CompletedProcess:
        try:
            return subprocess.run(
                [*base, *arguments], capture_output=True, text=True, env=env, timeout=self.wait_seconds + 600
            )
        except subprocess.TimeoutExpired as exc:
            return subprocess.CompletedProcess(exc.cmd, 124, "", "timed out")

    def _observe(self, base, env) -> dict[str, ServiceState]:
        listed = self._compose(base, ["ps", "--all", "--format", "json"], env)
        states: dict[str, ServiceState] = {}
        for entry in _json_lines(listed.stdout):
            name = entry.get("Service", "")
            container = entry.get("ID", "")
            restarts = 0
            inspected = subprocess.run(
                ["docker", "inspect", "--format", "{{.RestartCount}}", container],
                capture_output=True,
                text=True,
                env=env,
                timeout=30,
            )
            if inspected.returncode == 0 and inspected.stdout.strip().isdigit():
                restarts = int(inspected.stdout.strip())
            logs = self._compose(base, ["logs", "--no-color", "--tail", "20", name], env)
            states[name] = ServiceState(
                state=entry.get("State", ""),
                health=entry.get("Health", "") or "",
                exit_code=int(entry.get("ExitCode", 0) or 0),
                restarts=restarts,
                log=(logs.stdout + logs.stderr)[-2000:],
            )
        return states


def _json_lines(text: str) -> list[dict]:
    """`compose ps --format json` prints one object per line (older versions: one array)."""
    text = text.strip()
    if text.startswith("["):
        return json.loads(text)
    return [json.loads(line) for line in text.splitlines() if line.strip().startswith("{")]


def leftovers(prefix: str = "hardener-prove-") -> list[str]:
    """Containers, networks and volumes a prove run left behind (there should be none)."""
    commands = {
        "container": ["docker", "ps", "--all", "--format", "{{.Names}}"],
        "network": ["docker", "network", "ls", "--format", "{{.Name}}"],
        "volume": ["docker", "volume", "ls", "--format", "{{.Name}}"],
    }
    found = []
    for kind, command in commands.items():
        listing = subprocess.run(command, capture_output=True, text=True, env=_environment({}), timeout=30)
        found += [f"{kind} {n}" for n in listing.stdout.split() if n.startswith(prefix)]
    return found
