"""Benchmark `hardener prove` against one plain `docker compose up --build` of the same stack.

    python benchmarks/prove.py [--runs 3]

Needs a Docker daemon. The stack has three services, as a small web application has: a database
(postgres:16) on a named volume, a cache (redis:7), and a web server built from the repository
(`build: ./web`, FROM nginx:1.27) with a published port. The images are the test suite's stand-ins
(tests/images: Debian's packages with the official images' entrypoint logic), made first if missing.

Each round, one after the other on the same warm layer cache:

- plain: `docker compose up --build --wait -d`, then `down --volumes --remove-orphans --rmi local`
  (the up alone is reported too);
- prove: `hardener prove FOLDER --format json` in a fresh process: the baseline run, the run with every
  fix, any trial runs it needs, and the cleanup of both.

It prints a Markdown table of medians and the ratio to the plain run, and what the prove run did.
With `--examples` it also measures the shipped examples/ (a copy, so that only it is copied per run):
the web service is built from python:3.12-slim (a stand-in from Debian's Python; pip in the build
reaches PyPI) and has a HEALTHCHECK with Docker's default 30 s interval, so each start waits for it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hardener.compose.validate import compose_command  # noqa: E402
from hardener.prove.docker import daemon_problem  # noqa: E402
from tests.docker_daemon import ensure_python_stand_in, ensure_stand_ins  # noqa: E402

STACK = """\
services:
  db:
    image: postgres:16
    pull_policy: never
    volumes:
      - db-data:/var/lib/postgresql/data
  cache:
    image: redis:7
    pull_policy: never
  web:
    build: ./web
    ports:
      - "127.0.0.1:18080:80"
    depends_on:
      - db
      - cache
volumes:
  db-data:
"""
WEB_DOCKERFILE = """\
FROM nginx:1.27
COPY index.html /usr/share/nginx/html/index.html
"""


def make_stack(folder: Path) -> Path:
    (folder / "web").mkdir(parents=True)
    (folder / "web" / "Dockerfile").write_text(WEB_DOCKERFILE)
    (folder / "web" / "index.html").write_text("<h1>hello</h1>\n")
    (folder / "compose.yaml").write_text(STACK)
    return folder


def timed(command: list[str], **options) -> tuple[float, subprocess.CompletedProcess]:
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, **options)
    return time.perf_counter() - started, done


def plain_run(folder: Path, compose: tuple[str, ...]) -> tuple[float, float]:
    """(seconds for `up --build --wait`, seconds for up and down together)."""
    project = [
        "-p",
        f"hardener-bench-{os.getpid()}",
        "--project-directory",
        str(folder),
        "-f",
        str(folder / "compose.yaml"),
    ]
    up, done = timed([*compose, *project, "up", "--build", "--wait", "-d"])
    if done.returncode != 0:
        raise SystemExit(f"docker compose up failed: {done.stderr[-2000:]}")
    down, done = timed([*compose, *project, "down", "--volumes", "--remove-orphans", "--rmi", "local"])
    if done.returncode != 0:
        raise SystemExit(f"docker compose down failed: {done.stderr[-2000:]}")
    return up, up + down


def prove_run(folder: Path) -> tuple[float, list[dict]]:
    seconds, done = timed([sys.executable, "-m", "hardener", "prove", str(folder), "--format", "json"], cwd=ROOT)
    if done.returncode not in (0, 1):
        raise SystemExit(f"hardener prove failed ({done.returncode}): {done.stderr[-2000:]}")
    return seconds, json.loads(done.stdout)


def measure(folder: Path, compose: tuple[str, ...], runs: int) -> tuple[list[tuple[str, float]], list[dict]]:
    """The table's rows for one stack, and the last prove run's report."""
    plain_run(folder, compose)  # warm the layer cache, as a developer's machine is
    ups, plains, proves = [], [], []
    report: list[dict] = []
    for _ in range(runs):
        up, plain = plain_run(folder, compose)
        ups.append(up)
        plains.append(plain)
        seconds, report = prove_run(folder)
        proves.append(seconds)
    rows = [
        ("`docker compose up --build --wait`", statistics.median(ups)),
        ("the same, then `down --volumes --rmi local` (plain run)", statistics.median(plains)),
        ("`hardener prove` (baseline, fixed run, cleanup)", statistics.median(proves)),
    ]
    return rows, report


def print_table(title: str, rows: list[tuple[str, float]], report: list[dict]) -> None:
    plain = rows[1][1]
    print(f"{title}\n")
    print("| run | seconds | vs plain run |")
    print("|---|---:|---:|")
    for name, seconds in rows:
        print(f"| {name} | {seconds:.1f} | {seconds / plain:.1f}× |")
    counts: dict[str, int] = {}
    for fix in (fix for file in report for fix in file["fixes"]):
        counts[fix["status"]] = counts.get(fix["status"], 0) + 1
    starts = ", ".join(f"{Path(file['path']).name} {file['runs']}" for file in report)
    verdicts = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    print(f"\nStarts per file in the prove run: {starts}; verdicts: {verdicts}.\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="rounds to take the median of (default 3)")
    parser.add_argument("--examples", action="store_true", help="also measure the shipped examples/")
    args = parser.parse_args()
    problem = daemon_problem()
    compose = compose_command()
    if problem or compose is None:
        raise SystemExit(f"cannot benchmark: {problem or 'Docker Compose v2 was not found'}")
    print(f"Medians of {args.runs} rounds, on {os.cpu_count()} CPUs.\n")
    with tempfile.TemporaryDirectory(prefix="hardener-bench-prove-") as scratch:
        ensure_stand_ins(Path(scratch) / "images")
        rows, report = measure(make_stack(Path(scratch) / "stack"), compose, args.runs)
        print_table("Three services (database, cache, a web server built from the repository):", rows, report)
        if args.examples:
            ensure_python_stand_in(Path(scratch) / "images")
            examples = Path(scratch) / "examples"
            shutil.copytree(ROOT / "examples", examples, ignore=shutil.ignore_patterns("workflows"))
            rows, report = measure(examples, compose, args.runs)
            print_table("The shipped examples/ (compose.yaml and app/Dockerfile):", rows, report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
