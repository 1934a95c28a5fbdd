"""`hardener prove` on a real Docker daemon, with stand-ins of postgres, redis and nginx built from Debian's
packages (tests/images): each starts as root and steps down to its own user, as the official images do.

Fixes that stop a service from starting are dropped, with the log line that shows why, for that service
only; limits, tmpfs and capabilities come from what the containers did; a stack that never becomes
healthy proves nothing; the time limit holds; nothing is left behind and the repository is not written."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from hardener.compose.validate import compose_command
from hardener.config import Config
from hardener.prove.core import prove_compose, prove_dockerfile
from hardener.prove.docker import ComposeRuntime, leftovers

from .docker_daemon import build_image, ensure_debian_tag, ensure_stand_ins, exclusive_daemon, require_daemon

# One daemon, one set of images: under pytest-xdist these modules share a worker.
pytestmark = pytest.mark.xdist_group("docker")


@pytest.fixture(scope="module", autouse=True)
def one_module_on_the_daemon():
    with exclusive_daemon():
        yield


NEVER_HEALTHY = """\
FROM {base}
HEALTHCHECK --interval=1s --timeout=2s --retries=1 CMD ["false"]
CMD ["sleep", "3600"]
"""
# An image hardener knows nothing of: it writes a pid file and a cache, and needs no capability.
WORKER = """\
FROM {base}
CMD ["sh", "-c", "mkdir -p /run/worker /var/cache/worker && echo $$ > /run/worker/pid && echo 1 > /var/cache/worker/jobs && exec sleep 3600"]
"""
STACK = """\
services:
  db:
    image: postgres:16
    pull_policy: never
    environment:
      PGDATA: /pgdata
    volumes:
      - ./pgdata:/pgdata
  cache:
    image: redis:7
    pull_policy: never
    volumes:
      - cache-data:/data
  worker:
    image: example/worker:1
    pull_policy: never
volumes:
  cache-data:
"""


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    require_daemon()
    folder = tmp_path_factory.mktemp("images")
    ensure_stand_ins(folder)
    base = ensure_debian_tag(folder)
    build_image("example/never-healthy:1", NEVER_HEALTHY.format(base=base), folder / "never-healthy")
    build_image("example/worker:1", WORKER.format(base=base), folder / "worker")
    return base


def prove(folder, compose_text: str, **options):
    (folder / "compose.yaml").write_text(compose_text)
    runtime = ComposeRuntime(str(folder), compose_command(), wait_seconds=60)
    report = prove_compose(compose_text, "compose.yaml", Config(), runtime, **options)
    return report, runtime


def prove_json(path: str, **options) -> list[dict]:
    """`hardener prove --format json PATH` in its own process, as a user runs it: its report."""
    done = subprocess.run(
        [sys.executable, "-m", "hardener", "prove", "--format", "json", path],
        capture_output=True,
        text=True,
        timeout=600,
        **options,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def by_service(report, line: int) -> dict[str, object]:
    return {v.rule: v for v in report.verdicts if v.line == line}


@pytest.fixture(scope="module")
def stack(images, tmp_path_factory):
    folder = tmp_path_factory.mktemp("stack")
    report, runtime = prove(folder, STACK)
    return report, runtime, folder


def test_user_on_a_bind_mounted_data_folder_is_dropped_for_that_service_only(stack):
    report, runtime, folder = stack
    db, cache = by_service(report, 2), by_service(report, 9)
    assert db["HD205"].status == "dropped"
    assert 'could not change permissions of directory "/pgdata"' in db["HD205"].why
    assert cache["HD205"].status == "proven", "redis on a named volume keeps `user: redis`"
    assert {v.status for r, v in db.items() if r != "HD205"} == {"proven"}
    assert "user: postgres" not in report.fixed_text and "user: redis" in report.fixed_text
    # The proven fixes name what the service did.
    assert "db (running (healthy), as uid" in db["HD202"].why and "peak memory" in db["HD202"].why
    assert not (folder / "pgdata").exists(), "each run mounts a copy of the project folder, not the repository"
    assert leftovers() == [], "every container, network and volume of the runs is gone"
    assert len(runtime.projects) == report.runs


def test_limits_tmpfs_and_capabilities_are_learned_from_the_running_container(stack):
    report, _, _ = stack
    worker = by_service(report, 14)
    # No class, no table entry: the values come from what the worker did.
    assert worker["HD203"].status == "proven"
    assert worker["HD203"].description.startswith("limited mem_limit to 192m")  # a few MiB: twice, 128 MiB more
    assert "pids_limit to 64" in worker["HD203"].description
    assert (
        worker["HD204"].description == "made the root file system read-only with tmpfs /run/worker, /var/cache/worker"
    )
    assert worker["HD202"].description == "dropped all capabilities and added back nothing"
    assert "found by trial" in worker["HD202"].why
    fixed = report.fixed_text.split("  worker:")[1]
    assert "mem_limit: 192m" in fixed and "pids_limit: 64" in fixed and "cpus" not in fixed
    assert "read_only: true" in fixed and "- /run/worker" in fixed and "- /var/cache/worker" in fixed


def test_each_capability_the_table_adds_is_confirmed_by_trial(images, tmp_path):
    compose = "services:\n  web:\n    image: nginx:1.27\n    pull_policy: never\n"
    report, _ = prove(tmp_path, compose, minimise_capabilities=True)
    web = by_service(report, 2)
    assert web["HD202"].status == "proven"
    assert "found by trial" in web["HD202"].why
    added = web["HD202"].description.split("added back ")[1].split(", ")
    # nginx's master switches its workers to www-data: SETUID and SETGID stay; the table gave CHOWN too.
    assert {"SETUID", "SETGID"} <= set(added) <= {"CHOWN", "SETGID", "SETUID"}
    assert report.runs == 2 + 3, "baseline, fixed, and one trial per capability"
    assert leftovers() == []


def test_an_image_nothing_is_known_of_is_narrowed_from_the_usual_step_down_set(images, tmp_path):
    # nginx under a name no table knows: nothing fails first, then the five capabilities of an
    # entrypoint that steps down work, and only those five are tried one by one, not all fourteen.
    subprocess.run(["docker", "tag", "nginx:1.27", "example/unknown-web:1"], check=True)
    compose = "services:\n  web:\n    image: example/unknown-web:1\n    pull_policy: never\n"
    report, _ = prove(tmp_path, compose)
    web = by_service(report, 2)
    assert web["HD202"].status == "proven", web["HD202"]
    added = web["HD202"].description.split("added back ")[1].split(", ")
    assert {"SETUID", "SETGID"} <= set(added) <= {"CHOWN", "DAC_OVERRIDE", "FOWNER", "SETGID", "SETUID"}
    assert "none failed; started with CHOWN, DAC_OVERRIDE, FOWNER, SETGID, SETUID" in web["HD202"].why
    assert report.runs == 2 + 2 + 5, "baseline, fixed, none, the step-down set, then each of its five"
    assert leftovers() == []


def test_a_stack_that_never_becomes_healthy_proves_nothing(images, tmp_path):
    compose = "services:\n  app:\n    image: example/never-healthy:1\n    pull_policy: never\n"
    report, _ = prove(tmp_path, compose)
    assert report.runs == 1, "no fixed run after a baseline that does not work"
    assert report.verdicts and {v.status for v in report.verdicts} == {"not proven"}
    assert "does not start as written" in report.verdicts[0].why and "unhealthy" in report.verdicts[0].why
    assert report.fixed_text is None
    assert leftovers() == []


def test_the_time_limit_leaves_the_fixes_not_tried_as_not_proven(images, tmp_path):
    compose = "services:\n  cache:\n    image: redis:7\n    pull_policy: never\n"
    report, _ = prove(tmp_path, compose, deadline=0.0)
    assert report.runs == 1, "the limit has passed after the baseline: nothing more is started"
    assert {v.status for v in report.verdicts} == {"not proven"}
    assert all("time limit" in v.why for v in report.verdicts)
    assert leftovers() == []


def test_a_dockerfile_whose_new_user_cannot_write_its_data_folder_is_caught(images, tmp_path):
    dockerfile = (
        f"FROM {images}\n"
        "RUN mkdir -p /srv/app/data\n"
        'CMD ["sh", "-c", "echo started > /srv/app/data/state && exec sleep 3600"]\n'
    )
    (tmp_path / "Dockerfile").write_text(dockerfile)
    runtime = ComposeRuntime(str(tmp_path), compose_command(), wait_seconds=60)
    report = prove_dockerfile(dockerfile, "Dockerfile", Config(), runtime, str(tmp_path))
    [user] = [v for v in report.verdicts if v.rule == "HD101"]
    assert user.status == "dropped"
    assert "Permission denied" in user.why and "/srv/app/data/state" in user.why
    assert "USER" not in report.fixed_text
    assert leftovers() == []


def test_the_cli_reports_each_fix_in_json_and_writes_nothing(images, tmp_path):
    written = "services:\n  app:\n    image: example/never-healthy:1\n    pull_policy: never\n"
    (tmp_path / "compose.yaml").write_text(written)
    [file] = prove_json(str(tmp_path))
    assert file["baseline"] == {"app": "running (unhealthy)"}
    assert file["fixes"] and {f["status"] for f in file["fixes"]} == {"not proven"}
    assert {"rule", "line", "description", "status", "why"} <= set(file["fixes"][0])
    assert (tmp_path / "compose.yaml").read_text() == written
    assert leftovers() == []


@pytest.mark.parametrize("signal_number", [signal.SIGINT, signal.SIGTERM], ids=["Ctrl-C", "SIGTERM"])
def test_ctrl_c_or_a_cancelled_job_during_a_run_still_removes_everything(images, tmp_path, signal_number):
    (tmp_path / "compose.yaml").write_text("services:\n  cache:\n    image: redis:7\n    pull_policy: never\n")
    process = subprocess.Popen(
        [sys.executable, "-m", "hardener", "prove", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    # Wait until the baseline's container exists, then interrupt as a terminal's Ctrl-C does, or as a
    # cancelled CI job (SIGTERM) does.
    for _ in range(600):
        if any(item.startswith("container ") for item in leftovers()):
            break
        time.sleep(0.1)
    process.send_signal(signal_number)
    _, stderr = process.communicate(timeout=300)
    assert process.returncode == 130
    assert "interrupted" in stderr
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


def test_fix_prove_writes_the_proven_fixes_with_the_values_learned(images, tmp_path):
    compose = "services:\n  worker:\n    image: example/worker:1\n    pull_policy: never\n"
    (tmp_path / "compose.yaml").write_text(compose)
    done = subprocess.run(
        [sys.executable, "-m", "hardener", "fix", "--prove", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode in (0, 1), done.stderr
    assert "HD203 line 2: proven: limited mem_limit to 192m, pids_limit to 64" in done.stderr
    fixed = (tmp_path / "compose.yaml").read_text()
    assert fixed.startswith(compose)
    assert "mem_limit: 192m" in fixed and "- /run/worker" in fixed and "cap_drop:" in fixed
    assert "fixed" in done.stdout.lower() or "HD203" in done.stdout
    assert leftovers() == []


def test_fix_prove_without_a_daemon_leaves_behaviour_unchanged(tmp_path):
    (tmp_path / "compose.yaml").write_text("services:\n  db:\n    image: postgres:16\n")
    env = {**os.environ, "DOCKER_HOST": f"unix://{tmp_path}/no-such.sock", "HARDENER_OFFLINE": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "hardener", "fix", "--prove", str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode in (0, 1), done.stderr
    assert "hardener: warning: cannot prove: no Docker daemon is reachable" in done.stderr
    fixed = (tmp_path / "compose.yaml").read_text()
    assert "no-new-privileges:true" in fixed, "safe fixes need no proof"
    assert "cap_drop" not in fixed and "mem_limit" not in fixed and "user:" not in fixed


def test_log_excerpts_never_show_the_files_secret_values():
    from hardener.prove.core import ServiceState, _failure, _Prover

    text = "services:\n  db:\n    image: postgres:16\n    environment:\n      POSTGRES_PASSWORD: hunter2hunter\n"
    prover = _Prover(text, "compose.yaml", Config(), None, None, None, time.monotonic, False)
    state = ServiceState("exited", exit_code=1, log="db-1  | FATAL: password hunter2hunter rejected\n")
    shown = prover.redact(_failure("db", state, []))
    assert "hunter2hunter" not in shown and "password *** rejected" in shown


def test_a_service_built_from_a_known_image_starts_with_its_capabilities_and_no_trials(images, tmp_path):
    # Built FROM nginx:1.27 with no command or user of its own: it needs what nginx needs, and the
    # fixed run confirms it, so the stack is started twice, not once per capability.
    (tmp_path / "web").mkdir()
    (tmp_path / "web" / "Dockerfile").write_text("FROM nginx:1.27\nCOPY index.html /usr/share/nginx/html/\n")
    (tmp_path / "web" / "index.html").write_text("hello\n")
    (tmp_path / "compose.yaml").write_text("services:\n  web:\n    build: ./web\n")
    compose = next(f for f in prove_json(str(tmp_path)) if f["path"].endswith("compose.yaml"))
    capabilities = next(f for f in compose["fixes"] if f["rule"] == "HD202")
    assert capabilities["status"] == "proven", capabilities
    assert "CHOWN, SETGID, SETUID" in capabilities["description"]
    assert "`nginx:1.27` needs: the service is built FROM it" in capabilities["why"]
    assert compose["runs"] == 2
    assert leftovers() == []


def test_a_containers_start_time_is_read_from_dockers_timestamps():
    from hardener.prove.docker import _started_at

    def started(value):
        return _started_at({"State": {"StartedAt": value}})

    assert started("2026-12-07T01:55:00.123456789Z") == pytest.approx(1796608500.123456, abs=1e-5)
    assert started("2026-12-07T01:55:00Z") == 1796608500.0
    assert started("2026-12-07T02:55:00.5+01:00") == 1796608500.5
    assert started("0001-01-01T00:00:00Z") is None  # created, never started
    assert started("") is None and started("yesterday") is None


def test_a_run_copies_the_named_folder_and_never_its_own_temporary_folder(images, tmp_path):
    # The system's temporary folder inside the folder proven: each start's copy must leave the runs'
    # own folders out, or it would copy itself until names grow too long.
    (tmp_path / "tmp").mkdir()
    (tmp_path / "compose.yaml").write_text("services:\n  cache:\n    image: redis:7\n    pull_policy: never\n")
    [file] = prove_json(".", cwd=tmp_path, env={**os.environ, "TMPDIR": str(tmp_path / "tmp")})
    assert file["fixes"] and {f["status"] for f in file["fixes"]} == {"proven"}
    assert list((tmp_path / "tmp").iterdir()) == []
    assert leftovers() == []


def test_the_folder_copied_is_the_repository_or_the_folder_named(tmp_path, monkeypatch):
    from hardener.prove.command import _copied_root

    (tmp_path / "repo" / ".git").mkdir(parents=True)
    (tmp_path / "repo" / "deploy").mkdir()
    (tmp_path / "plain" / "stack").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)  # the current folder is never copied for being the current folder
    assert _copied_root(str(tmp_path / "repo" / "deploy" / "compose.yaml"), ["repo/deploy"]) == str(tmp_path / "repo")
    assert _copied_root("plain/stack/compose.yaml", ["plain"]) == str(tmp_path / "plain")
    assert _copied_root("plain/stack/compose.yaml", ["plain/stack/compose.yaml"]) == str(tmp_path / "plain" / "stack")
