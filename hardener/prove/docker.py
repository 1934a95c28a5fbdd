"""The edge that starts compose stacks on a Docker daemon, for `hardener prove`.

Each start is a throwaway project (`hardener-prove-<random>`): the candidate file is written to a
temporary folder and named with `-f`, with a copy of the repository folder as the project directory,
so relative builds and mounts resolve as they would, each run starts from the files as checked out,
and nothing is written into the repository. Absolute host paths in the file are mounted as written.
Compose runs with a small environment of its own (no token, nothing of the caller's but PATH, HOME
and the Docker connection) plus throwaway values for the variables the fixes require. Whatever
happens, `down --volumes --remove-orphans --rmi local` removes what the project made.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import subprocess
import tempfile
import time
from dataclasses import replace

from hardener.measured import Measurement
from hardener.prove.core import DOCKERFILE_VARIABLE, ServiceState

# How long each container must have run before its state counts: long enough to see a service that
# exits or restarts at once. Counted from the container's own start, and measuring happens meanwhile,
# so a run waits only for what is left of it after `up --wait`.
SETTLE_SECONDS = 2.0
UP_FAILED = "docker compose up"  # the state's name when `up` made no container at all
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

    def __init__(
        self, project_directory: str, compose: tuple[str, ...], wait_seconds: int = 60, copied_root: str | None = None
    ):
        """`project_directory`: the compose file's folder; `copied_root`: the folder each run copies (the
        repository around it, so that builds and mounts that reach above the compose file's folder work)."""
        self.project_directory = project_directory
        self.copied_root = copied_root or project_directory
        self.compose = compose
        self.wait_seconds = wait_seconds
        self.projects: list[str] = []  # every project started, for the tests' cleanup check

    def start(
        self, compose_text: str, variables: dict[str, str], dockerfile: str | None = None, measure: bool = True
    ) -> dict[str, ServiceState]:
        project = f"hardener-prove-{secrets.token_hex(4)}"
        self.projects.append(project)
        env = _environment(variables)
        with tempfile.TemporaryDirectory(prefix="hardener-prove-", ignore_cleanup_errors=True) as folder:
            # Each run gets its own copy of the project folder: a bind-mounted folder that a run creates or
            # hands to another owner must look to the next run as it does in a fresh checkout, and the
            # repository itself is never written.
            root_copy = os.path.join(folder, "project")
            shutil.copytree(self.copied_root, root_copy, symlinks=True, ignore=_not_copied)
            project_copy = os.path.normpath(
                os.path.join(root_copy, os.path.relpath(self.project_directory, self.copied_root))
            )
            path = os.path.join(folder, "compose.yaml")
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(compose_text)
            if dockerfile is not None:
                env[DOCKERFILE_VARIABLE] = os.path.join(folder, "Dockerfile")
                with open(env[DOCKERFILE_VARIABLE], "w", encoding="utf-8") as handle:
                    handle.write(dockerfile)
            base = [*self.compose, "-p", project, "-f", path, "--project-directory", project_copy]
            try:
                up = self._compose(
                    base, ["up", "-d", "--build", "--wait", "--wait-timeout", str(self.wait_seconds)], env
                )
                states = self._observe(base, env, measure)
                if up.returncode != 0:
                    # A build, the file itself or a container's start failed: `up`'s error is the evidence
                    # for what never ran.
                    error = _up_error(up.stdout + up.stderr)
                    if not states:
                        return {UP_FAILED: ServiceState("not started", log=error)}
                    states = {
                        name: state if state.log.strip() or state.works else replace(state, log=error)
                        for name, state in states.items()
                    }
                return states
            finally:
                # A second Ctrl-C must not stop the clean-up half-way.
                with _interrupts_held():
                    self._compose(base, ["down", "--volumes", "--remove-orphans", "--rmi", "local", "-t", "2"], env)

    def _compose(self, base, arguments, env) -> subprocess.CompletedProcess:
        try:
            return subprocess.run(
                [*base, *arguments], capture_output=True, text=True, env=env, timeout=self.wait_seconds + 600
            )
        except subprocess.TimeoutExpired as exc:
            return subprocess.CompletedProcess(exc.cmd, 124, "", "timed out")

    def _observe(self, base, env, measure: bool) -> dict[str, ServiceState]:
        """Each service's state once the settling time is over, its log, the ports' answers and (when
        `measure`) what it used and wrote; the services are observed side by side."""
        from concurrent.futures import ThreadPoolExecutor

        listed = _json_lines(self._compose(base, ["ps", "--all", "--format", "json"], env).stdout)

        def observe(entry: dict) -> tuple[str, ServiceState]:
            name, container = entry.get("Service", ""), entry.get("ID", "")
            details = _inspect(container, env)
            running = (details.get("State") or {}).get("Status") == "running"
            settled_at = time.time() + SETTLE_SECONDS
            started = _started_at(details)
            if started is not None:
                settled_at = min(settled_at, started + SETTLE_SECONDS)
            measured = _measure(container, details, env) if measure and running else None
            time.sleep(max(0.0, settled_at - time.time()))
            details = _inspect(container, env) or details  # as it is once settled
            state = details.get("State") or {}
            status = state.get("Status") or entry.get("State", "")
            if measured is not None and status == "running":
                # Peaks keep growing while it settles: read them last.
                memory, pids = _cgroup_peaks(int(state.get("Pid") or 0))
                measured = replace(
                    measured,
                    memory_peak=memory if memory is not None else measured.memory_peak,
                    pids_peak=pids if pids is not None else measured.pids_peak,
                )
            logs = self._compose(base, ["logs", "--no-color", "--tail", "20", name], env)
            return name, ServiceState(
                state=status,
                health=(state.get("Health") or {}).get("Status", "") or "",
                exit_code=int(state.get("ExitCode", entry.get("ExitCode", 0)) or 0),
                restarts=int(details.get("RestartCount", 0) or 0),
                log=(logs.stdout + logs.stderr)[-2000:],
                measured=measured if status == "running" else None,
                ports=probe_ports(details) if status == "running" else (),
            )

        if not listed:
            return {}
        with ThreadPoolExecutor(max_workers=min(8, len(listed))) as pool:
            return dict(pool.map(observe, listed))


PROBE_REQUEST = b"GET / HTTP/1.0\r\n\r\n"  # HTTP servers answer; other protocols answer or close
_PROBE_CONNECT_SECONDS = 2
_PROBE_ANSWER_SECONDS = 3
_PROBED_PORTS = 4  # per container, to bound the time a run takes


def probe_ports(details: dict) -> tuple[tuple[int, str], ...]:
    """Connect to each TCP port the container exposes, at its address on the project network (from
    this host, as Docker's bridge allows; a published port on this host where it does not), and
    record what the connection got. Only differences from the baseline count, so a port this host
    cannot reach at all proves nothing either way."""
    exposed = (details.get("Config") or {}).get("ExposedPorts") or {}
    settings = details.get("NetworkSettings") or {}
    addresses = [n.get("IPAddress") for n in (settings.get("Networks") or {}).values() if n.get("IPAddress")]
    published = settings.get("Ports") or {}
    found = []
    for key in sorted(exposed, key=lambda k: int(k.split("/")[0]) if k.split("/")[0].isdigit() else 0):
        port, _, protocol = key.partition("/")
        if protocol not in ("", "tcp") or not port.isdigit():
            continue
        targets = [(address, int(port)) for address in addresses[:1]]
        targets += [
            ("127.0.0.1", int(b["HostPort"])) for b in published.get(key) or [] if b.get("HostPort", "").isdigit()
        ][:1]
        outcome = "refused"
        for target in targets:
            outcome = _probe(target)
            if outcome != "refused":
                break
        found.append((int(port), outcome))
        if len(found) == _PROBED_PORTS:
            break
    return tuple(found)


def _probe(target: tuple[str, int]) -> str:
    import socket

    try:
        connection = socket.create_connection(target, timeout=_PROBE_CONNECT_SECONDS)
    except OSError:
        return "refused"
    with connection:
        try:
            connection.settimeout(_PROBE_ANSWER_SECONDS)
            connection.sendall(PROBE_REQUEST)
            return "answers" if connection.recv(1) else "closes"
        except TimeoutError:
            return "silent"
        except OSError:
            return "closes"


def _up_error(output: str) -> str:
    """`up`'s output without its progress lines and warnings, which say nothing of the failure."""
    kept = [
        line
        for line in output.splitlines()
        if line.strip()
        and "level=warning" not in line
        and not set(line.strip()) <= set("-=#* ")
        and not line.lstrip().startswith(("Container ", "Network ", "Volume ", "#"))
    ]
    return "\n".join(kept)[-2000:]


def _not_copied(folder: str, names: list[str]) -> set[str]:
    """What a run's copy leaves out: `.git`, and the runs' own temporary folders (were the system's
    temporary folder inside the copied tree, a copy would otherwise hold itself)."""
    skipped = {".git"} & set(names)
    if os.path.realpath(folder) == os.path.realpath(tempfile.gettempdir()):
        skipped |= {name for name in names if name.startswith("hardener-prove-")}
    return skipped


@contextlib.contextmanager
def _interrupts_held():
    """SIGINT and SIGTERM ignored for the block (in the main thread; elsewhere signals cannot be set)."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {number: signal.signal(number, signal.SIG_IGN) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def terminate_as_interrupt() -> None:
    """Treat SIGTERM (a cancelled CI job, `kill`) as Ctrl-C, so that a prove run removes what it started."""
    import signal
    import threading

    def interrupted(signum, frame):
        raise KeyboardInterrupt

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, interrupted)


def _docker(arguments: list[str], env) -> str:
    """A docker command's output, or "" when it fails: observations are best effort."""
    try:
        done = subprocess.run(["docker", *arguments], capture_output=True, text=True, env=env, timeout=30)
    except subprocess.TimeoutExpired:
        return ""
    return done.stdout if done.returncode == 0 else ""


def _started_at(details: dict) -> float | None:
    """When the container's current run began (`State.StartedAt`, RFC 3339 in nanoseconds), as a Unix time."""
    import re
    from datetime import datetime

    value = str((details.get("State") or {}).get("StartedAt") or "")
    match = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)", value)
    if match is None or match.group(1).startswith("0001"):  # Docker's zero time: never started
        return None
    whole, fraction, zone = match.groups()
    try:
        moment = datetime.fromisoformat(whole + (zone if zone != "Z" else "+00:00"))
    except ValueError:
        return None
    return moment.timestamp() + (float("0." + fraction) if fraction else 0.0)


def _inspect(container: str, env) -> dict:
    try:
        [details] = json.loads(_docker(["inspect", container], env) or "[{}]")
    except (ValueError, TypeError):
        return {}
    return details if isinstance(details, dict) else {}


# Paths Docker itself writes or mounts into every container.
_DOCKER_OWN = ("/dev", "/proc", "/sys", "/etc/hosts", "/etc/hostname", "/etc/resolv.conf", "/.dockerenv")


def _measure(container: str, details: dict, env) -> Measurement:
    """The uid of the first process, peak memory and pids from the container's cgroup (or one
    `docker stats` sample where the cgroup cannot be read), and the paths written outside its mounts."""
    uid = None
    rows = _docker(["top", container, "-o", "pid,uid"], env).splitlines()[1:]
    if rows and rows[0].split()[1:2] and rows[0].split()[1].isdigit():
        uid = int(rows[0].split()[1])
    memory, pids = _cgroup_peaks(int((details.get("State") or {}).get("Pid") or 0))
    if memory is None or pids is None:
        sample = _json_lines(_docker(["stats", "--no-stream", "--format", "{{json .}}", container], env))
        if sample:
            memory = memory if memory is not None else _stats_bytes(sample[0].get("MemUsage", ""))
            pids = pids if pids is not None else _int(sample[0].get("PIDs"))
    mounted = [m.get("Destination", "") for m in details.get("Mounts") or []]
    mounted += list(((details.get("HostConfig") or {}).get("Tmpfs") or {}).keys())
    changed = []
    for line in _docker(["diff", container], env).splitlines():
        kind, _, path = line.partition(" ")
        if kind in ("A", "C", "D") and path.startswith("/"):
            changed.append(path)
    return Measurement(uid=uid, memory_peak=memory, pids_peak=pids, written=written_paths(changed, mounted))


def written_paths(changed: list[str], mounted: list[str]) -> tuple[str, ...]:
    """The paths `docker diff` lists that were written themselves (not folders listed only because
    something below them changed), outside the container's mounts and Docker's own files."""
    listed = set(changed)
    leaves = [p for p in listed if not any(other.startswith(p.rstrip("/") + "/") for other in listed)]
    outside = [
        p for p in leaves if not any(p == m or p.startswith(m.rstrip("/") + "/") for m in (*mounted, *_DOCKER_OWN) if m)
    ]
    return tuple(sorted(outside))


def _cgroup_peaks(pid: int) -> tuple[int | None, int | None]:
    """(peak memory in bytes, peak or current pids) from the cgroup of the container's first process,
    read on this host: cgroup v2 memory.peak and pids.peak, v1 memory.max_usage_in_bytes and pids.current."""
    if pid <= 0:
        return None, None
    try:
        with open(f"/proc/{pid}/cgroup", encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except OSError:
        return None, None
    folders: dict[str, str] = {}
    for line in lines:
        _, controllers, path = (line.split(":", 2) + ["", ""])[:3]
        for controller in controllers.split(",") if controllers else [""]:
            folders[controller] = path
    root = "/sys/fs/cgroup"
    candidates = {
        "memory": [
            f"{root}{folders.get('', '-')}/memory.peak",
            f"{root}/memory{folders.get('memory', '-')}/memory.max_usage_in_bytes",
        ],
        "pids": [
            f"{root}{folders.get('', '-')}/pids.peak",
            f"{root}/pids{folders.get('pids', '-')}/pids.current",
            f"{root}{folders.get('', '-')}/pids.current",
        ],
    }
    found: dict[str, int | None] = {"memory": None, "pids": None}
    for what, paths in candidates.items():
        for path in paths:
            try:
                with open(path, encoding="utf-8") as handle:
                    found[what] = int(handle.read().split()[0])
                break
            except (OSError, ValueError, IndexError):
                continue
    return found["memory"], found["pids"]


_STATS_UNITS = {"b": 1, "kib": 1024, "mib": 1024**2, "gib": 1024**3, "kb": 1000, "mb": 1000**2, "gb": 1000**3}


def _stats_bytes(usage: str) -> int | None:
    """`docker stats` memory ("2.129MiB / 23.59GiB") as bytes."""
    used = usage.split("/")[0].strip().lower()
    for unit in sorted(_STATS_UNITS, key=len, reverse=True):
        if used.endswith(unit):
            try:
                return int(float(used[: -len(unit)]) * _STATS_UNITS[unit])
            except ValueError:
                return None
    return None


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


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
