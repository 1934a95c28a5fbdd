"""`hardener prove` on a real Docker daemon: fixes that stop a service from starting are dropped, with the
log line that shows why; the rest are proven; a stack that never starts proves nothing; nothing is left."""

import json
import os
import subprocess
import sys

import pytest

from hardener.compose.validate import compose_command
from hardener.config import Config
from hardener.prove.core import prove_compose
from hardener.prove.docker import ComposeRuntime, leftovers

from .docker_daemon import build_image, ensure_base_image, require_daemon

# A stand-in for the official postgres image, under its name: it creates its data folder at start, as
# root, outside any volume. hardener's table says postgres writes only /var/run/postgresql and /tmp
# and runs as `postgres`, which holds for the real image with its volume, not for this one.
STAND_IN_POSTGRES = """\
FROM {base}
RUN useradd --system --create-home postgres
CMD ["sh", "-c", "mkdir -p /var/lib/postgresql/data && echo 15 > /var/lib/postgresql/data/PG_VERSION && echo ready && exec sleep 3600"]
"""
NEVER_STARTS = """\
FROM {base}
CMD ["sh", "-c", "echo missing configuration >&2; exit 3"]
"""


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    require_daemon()
    folder = tmp_path_factory.mktemp("images")
    base = ensure_base_image(folder)
    build_image("postgres:16", STAND_IN_POSTGRES.format(base=base), folder / "postgres")
    build_image("redis:7", NEVER_STARTS.format(base=base), folder / "redis")
    return base


def prove(tmp_path, compose_text: str, **options):
    (tmp_path / "compose.yaml").write_text(compose_text)
    runtime = ComposeRuntime(str(tmp_path), compose_command(), wait_seconds=30)
    report = prove_compose(compose_text, "compose.yaml", Config(), runtime, **options)
    return report, runtime


def test_fixes_that_break_startup_are_dropped_with_the_log_line_and_the_rest_are_proven(images, tmp_path):
    report, runtime = prove(tmp_path, "services:\n  db:\n    image: postgres:16\n    pull_policy: never\n")
    status = {v.rule: v.status for v in report.verdicts}
    assert status == {"HD202": "proven", "HD203": "proven", "HD204": "dropped", "HD205": "dropped"}
    why = {v.rule: v.why for v in report.verdicts}
    assert "Read-only file system" in why["HD204"] and "exited with code 1" in why["HD204"]
    assert "Permission denied" in why["HD205"]
    # The file keeps the proven and the safe fixes only.
    assert "cap_drop" in report.fixed_text and "mem_limit" in report.fixed_text
    assert "no-new-privileges:true" in report.fixed_text
    assert "read_only" not in report.fixed_text and "user:" not in report.fixed_text
    assert leftovers() == [], "every container, network and volume of the runs is gone"
    assert len(runtime.projects) == report.runs


def test_a_stack_that_does_not_start_as_written_proves_nothing(images, tmp_path):
    report, _ = prove(tmp_path, "services:\n  cache:\n    image: redis:7\n    pull_policy: never\n")
    assert report.runs == 1, "no fixed run after a baseline that does not work"
    assert report.verdicts and {v.status for v in report.verdicts} == {"not proven"}
    assert "does not start as written" in report.verdicts[0].why and "exited with code 3" in report.verdicts[0].why
    assert report.fixed_text is None
    assert leftovers() == []


def test_the_time_limit_leaves_the_fixes_not_tried_as_not_proven(images, tmp_path):
    # The limit has passed once the first failure is seen: no fix is tried on its own.
    report, _ = prove(tmp_path, "services:\n  db:\n    image: postgres:16\n    pull_policy: never\n", deadline=0.0)
    assert {v.status for v in report.verdicts} == {"not proven"}
    assert all("time limit" in v.why for v in report.verdicts)
    assert report.runs == 2
    assert leftovers() == []


def test_the_cli_reports_each_fix_in_json_and_writes_nothing(images, tmp_path):
    # The stack that does not start: one run is enough to see the report's shape.
    written = "services:\n  cache:\n    image: redis:7\n    pull_policy: never\n"
    (tmp_path / "compose.yaml").write_text(written)
    done = subprocess.run(
        [sys.executable, "-m", "hardener", "prove", "--format", "json", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    [file] = json.loads(done.stdout)
    assert file["baseline"] == {"cache": "exited with code 3"}
    assert file["fixes"] and {f["status"] for f in file["fixes"]} == {"not proven"}
    assert {"rule", "line", "description", "status", "why"} <= set(file["fixes"][0])
    assert (tmp_path / "compose.yaml").read_text() == written
    assert leftovers() == []


def test_without_a_daemon_prove_says_so_and_exits_2(tmp_path):
    (tmp_path / "compose.yaml").write_text("services:\n  db:\n    image: postgres:16\n")
    env = {**os.environ, "DOCKER_HOST": f"unix://{tmp_path}/no-such.sock"}
    done = subprocess.run(
        [sys.executable, "-m", "hardener", "prove", str(tmp_path)], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == 2
    assert done.stderr.startswith("hardener: error: cannot prove: no Docker daemon is reachable")
    assert len(done.stderr.strip().splitlines()) == 1
