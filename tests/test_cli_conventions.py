"""The command-line conventions users of ruff and hadolint expect: standard input, exit-code switches,
statistics and an enumeration of the fixes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

DOCKERFILE = "FROM debian:12\nRUN apt-get update\nRUN apt-get install -y curl\nADD app.py /app/\n"
FIXED = (
    "FROM debian:12\nRUN apt-get update && \\\n    apt-get install -y curl && \\\n    rm -rf /var/lib/apt/lists/*\n"
    "COPY app.py /app/\n"
)


def run_bytes(tmp_path, *args, data: bytes, cwd=None):
    """The CLI with bytes on standard input and bytes back, so line endings and byte-order marks are seen."""
    env = {**os.environ, "NO_COLOR": "1", "HARDENER_OFFLINE": "1", "HARDENER_CACHE_DIR": str(tmp_path / ".cache")}
    return subprocess.run(
        [sys.executable, "-m", "hardener", *args], input=data, capture_output=True, env=env, cwd=cwd or tmp_path
    )


@pytest.fixture
def repo(tmp_path):
    (tmp_path / ".git").mkdir()
    return tmp_path


# -- standard input -----------------------------------------------------------------------------------
def test_fix_from_stdin_writes_exactly_the_fixed_file_and_the_report_to_stderr(repo):
    result = run_bytes(repo, "fix", "-", "--stdin-filename", "Dockerfile", data=DOCKERFILE.encode())
    assert result.stdout.decode() == FIXED
    assert b"Dockerfile:2: HD102 fixed" in result.stderr
    assert not (repo / "Dockerfile").exists()  # nothing is written


def test_stdin_keeps_crlf_and_the_byte_order_mark(repo):
    data = b"\xef\xbb\xbf" + DOCKERFILE.replace("\n", "\r\n").encode()
    result = run_bytes(repo, "fix", "-", "--select", "HD105", data=data)
    assert result.stdout == b"\xef\xbb\xbf" + DOCKERFILE.replace("\n", "\r\n").replace("ADD", "COPY").encode()


def test_the_stdin_filename_picks_the_kind_the_settings_and_the_name_in_reports(repo):
    (repo / "deploy").mkdir()
    (repo / "deploy" / ".hardener.toml").write_text('select = ["HD201"]\n')
    compose = b"services:\n  web:\n    image: nginx:1.27\n"
    result = run_bytes(repo, "check", "-", "--stdin-filename", "deploy/compose.yaml", "--format", "json", data=compose)
    document = json.loads(result.stdout)
    assert [(f["rule"], f["path"]) for f in document["findings"]] == [("HD201", "deploy/compose.yaml")]
    assert result.returncode == 1


def test_without_a_stdin_filename_the_input_is_a_dockerfile_named_dash(repo):
    result = run_bytes(repo, "check", "-", "--select", "HD105", data=DOCKERFILE.encode())
    assert result.stdout.decode().startswith("-:4:1: HD105 ")


def test_bad_input_on_stdin_is_one_error_line_and_fix_gives_the_input_back(repo):
    data = b"services:\n  web: [\n"
    result = run_bytes(repo, "fix", "-", "--stdin-filename", "compose.yaml", data=data)
    assert result.returncode == 2
    assert result.stdout == data
    errors = [line for line in result.stderr.decode().splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith("error: compose.yaml:")


def test_a_python_module_that_does_not_import_docker_comes_back_unchanged(repo):
    result = run_bytes(repo, "fix", "-", "--stdin-filename", "tool.py", data=b"import os\n")
    assert (result.returncode, result.stdout) == (0, b"import os\n")


def test_fix_diff_from_stdin_prints_the_patch(repo):
    result = run_bytes(repo, "fix", "--diff", "-", "--stdin-filename", "Dockerfile", data=DOCKERFILE.encode())
    assert result.stdout.decode().startswith("--- a/Dockerfile\n+++ b/Dockerfile\n")
    assert result.returncode == 1


@pytest.mark.parametrize(
    "args,message",
    [
        (("check", "-", "Dockerfile"), "cannot be named with other paths"),
        (("check", "--stdin-filename", "Dockerfile", "."), "needs `-` as the only path"),
        (("check", "--statistics", "--format", "sarif", "."), "--statistics works with"),
    ],
)
def test_usage_errors_are_one_line_and_exit_2(repo, args, message):
    result = run_bytes(repo, *args, data=b"")
    assert result.returncode == 2 and message in result.stderr.decode()


# -- exit codes ---------------------------------------------------------------------------------------
def test_exit_zero_ignores_findings_but_not_errors(repo, run_cli):
    (repo / "Dockerfile").write_text(DOCKERFILE)
    assert run_cli("check", ".", cwd=repo).returncode == 1
    assert run_cli("check", "--exit-zero", ".", cwd=repo).returncode == 0
    (repo / "broken.Dockerfile").write_text("FROM\n")
    assert run_cli("check", "--exit-zero", ".", cwd=repo).returncode == 2


def test_exit_non_zero_on_fix_reports_a_fix_even_when_nothing_remains(repo, run_cli):
    (repo / "Dockerfile").write_text("FROM debian:12\nADD app.py /app/\n")
    assert run_cli("fix", "--select", "HD105", ".", cwd=repo).returncode == 0
    (repo / "Dockerfile").write_text("FROM debian:12\nADD app.py /app/\n")
    assert run_cli("fix", "--select", "HD105", "--exit-non-zero-on-fix", ".", cwd=repo).returncode == 1
    # Nothing left to fix: 0 again.
    assert run_cli("fix", "--select", "HD105", "--exit-non-zero-on-fix", ".", cwd=repo).returncode == 0


# -- statistics and --show-fixes ----------------------------------------------------------------------
def test_statistics_count_findings_per_rule_most_first(repo, run_cli):
    (repo / "Dockerfile").write_text("FROM debian:12\nADD a.py /a\nADD b.py /b\nRUN sudo true\n")
    result = run_cli("check", "--statistics", "--select", "HD105,HD108", ".", cwd=repo)
    lines = result.stdout.splitlines()
    assert lines[:2] == ["    2  HD105  add-instead-of-copy  [safe fix]", "    1  HD108  sudo-in-run"]
    assert not any(line.startswith("Dockerfile:") for line in lines)
    rows = json.loads(
        run_cli("check", "--statistics", "--format", "json", "--select", "HD105,HD108", ".", cwd=repo).stdout
    )
    assert rows == [
        {"code": "HD105", "name": "add-instead-of-copy", "count": 2, "fixable": "safe"},
        {"code": "HD108", "name": "sudo-in-run", "count": 1, "fixable": None},
    ]


def test_show_fixes_lists_the_fixes_by_file_and_rule(repo, run_cli):
    (repo / "Dockerfile").write_text("FROM debian:12\nADD a.py /a\nADD b.py /b\n")
    checked = run_cli("check", "--show-fixes", "--select", "HD105", ".", cwd=repo).stdout
    assert (
        "2 findings with a fix (see --unsafe-fixes for the behaviour-changing ones):\n- Dockerfile:\n    2 × HD105 (add-instead-of-copy)\n"
        in checked
    )
    fixed = run_cli("fix", "--show-fixes", "--select", "HD105", ".", cwd=repo).stdout
    assert "Fixed 2 findings:\n- Dockerfile:\n    2 × HD105 (add-instead-of-copy)\n" in fixed


def test_the_default_text_output_is_unchanged_by_the_new_options(repo, run_cli):
    (repo / "Dockerfile").write_text(DOCKERFILE)
    plain = run_cli("check", ".", cwd=repo).stdout
    assert run_cli("check", "--exit-zero", ".", cwd=repo).stdout == plain
    assert "with a fix (see" not in plain and "  [safe fix]" not in plain
