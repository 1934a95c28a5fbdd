"""The command-line contract: exit codes, output formats, writing, configuration, bad input."""

import codecs
import json
import os
import stat
import subprocess
import sys

import pytest

SPLIT_APT = 'FROM debian:12\nRUN apt-get update\nRUN apt-get install -y curl\nCMD ["bash"]\n'
PINNED = "@sha256:eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee"
HARDENED = f'FROM debian:12{PINNED}\nUSER 1000:1000\nHEALTHCHECK CMD true\nCMD ["bash"]\n'


def write(path, text, mode="w"):
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_bytes(text.encode())
    return path


def test_check_exit_codes(tmp_path, run_cli):
    write(tmp_path / "clean" / "Dockerfile", HARDENED)
    write(tmp_path / "dirty" / "Dockerfile", SPLIT_APT)
    assert run_cli("check", "clean").returncode == 0
    result = run_cli("check", "dirty")
    assert result.returncode == 1
    assert "dirty/Dockerfile:2:1: HD102" in result.stdout
    assert "Scanned 1 file: " in result.stdout


def test_fix_diff_prints_a_patch_and_writes_nothing(tmp_path, run_cli):
    target = write(tmp_path / "Dockerfile", SPLIT_APT)
    result = run_cli("fix", "--diff", ".")
    assert result.returncode == 1
    assert result.stdout.startswith("--- a/Dockerfile\n+++ b/Dockerfile\n")
    assert "+RUN apt-get update && \\\n" in result.stdout
    assert "Would fix" in result.stderr
    assert target.read_text() == SPLIT_APT
    # The patch applies cleanly with git.
    subprocess.run(["git", "init", "-q", "."], cwd=tmp_path, check=True)
    subprocess.run(["git", "apply", "-"], cwd=tmp_path, input=result.stdout, text=True, check=True)
    assert target.read_text() != SPLIT_APT


def test_fix_writes_atomically_keeping_mode_crlf_and_bom(tmp_path, run_cli):
    text = codecs.BOM_UTF8 + SPLIT_APT.replace("\n", "\r\n").encode()
    target = write(tmp_path / "Dockerfile", text)
    os.chmod(target, 0o640)
    result = run_cli("fix", "--select", "HD102,HD104", ".")
    assert result.returncode == 0, result.stdout + result.stderr
    data = target.read_bytes()
    assert data.startswith(codecs.BOM_UTF8)
    assert data.count(b"\r\n") == data.count(b"\n")
    assert b"apt-get update && \\\r\n    apt-get install" in data
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["Dockerfile"], "no temporary file is left behind"
    again = run_cli("fix", ".")
    assert "Fixed 0 " in again.stdout and again.returncode == 1, "a second run changes nothing; findings remain"


def test_unsafe_fixes_flag_and_tiers_in_output(tmp_path, run_cli):
    write(tmp_path / "Dockerfile", SPLIT_APT)
    safe = run_cli("fix", "--diff", ".")
    assert "USER" not in safe.stdout
    assert "HD101" in safe.stderr and "--unsafe-fixes" in safe.stderr
    unsafe = run_cli("fix", "--diff", "--unsafe-fixes", ".")
    assert "+USER 10001:10001" in unsafe.stdout
    assert "[behaviour-changing]" in unsafe.stderr


def test_json_output(tmp_path, run_cli):
    write(tmp_path / "Dockerfile", SPLIT_APT)
    result = run_cli("check", "--format", "json", ".")
    data = json.loads(result.stdout)
    finding = next(f for f in data["findings"] if f["rule"] == "HD102")
    assert {"rule", "path", "line", "column", "message", "severity", "fix"} <= finding.keys()
    assert finding["fix"]["tier"] == "safe"
    assert finding["fix"]["edits"][0]["start"] == {"line": 2, "column": 19}
    report_only = next(f for f in data["findings"] if f["rule"] == "HD109")
    assert report_only["fix"] is None
    assert data["summary"]["files_scanned"] == 1
    fix = json.loads(run_cli("fix", "--diff", "--format", "json", ".").stdout)
    assert fix["files"][0]["changed"] and fix["files"][0]["diff"].startswith("--- a/")


def test_select_and_ignore(tmp_path, run_cli):
    write(tmp_path / "Dockerfile", SPLIT_APT)
    only = run_cli("check", "--select", "HD102", ".")
    assert "HD102" in only.stdout and "HD101" not in only.stdout
    by_name = run_cli("check", "--ignore", "root-user,HD1", ".")
    assert by_name.returncode == 0
    unknown = run_cli("check", "--select", "HD999", ".")
    assert unknown.returncode == 2 and "unknown rule 'HD999'" in unknown.stderr


def test_configuration_files(tmp_path, run_cli):
    write(tmp_path / "pyproject.toml", '[tool.hardener]\nignore = ["HD109"]\nunsafe-fixes = true\n')
    write(tmp_path / "svc" / "Dockerfile", SPLIT_APT)
    result = run_cli("fix", "--diff", "svc")
    assert "+USER 10001:10001" in result.stdout and "HD109" not in result.stderr
    # The nearest file wins, and command-line options win over files.
    write(tmp_path / "svc" / ".hardener.toml", "unsafe-fixes = false\nuser-uid = 2000\n")
    assert "USER" not in run_cli("fix", "--diff", "svc").stdout
    assert "+USER 2000:2000" in run_cli("fix", "--diff", "--unsafe-fixes", "svc").stdout


def test_bad_configuration_is_a_usage_error(tmp_path, run_cli):
    write(tmp_path / ".hardener.toml", "unsafe_fixes = 'yes'\n")
    write(tmp_path / "Dockerfile", SPLIT_APT)
    result = run_cli("check", ".")
    assert result.returncode == 2
    assert ".hardener.toml" in result.stdout and "true or false" in result.stdout
    write(tmp_path / ".hardener.toml", "colour = true\n")
    assert "unknown setting 'colour'" in run_cli("check", ".").stdout


def test_inline_suppressions(tmp_path, run_cli):
    text = (
        "# hardener: global ignore=HD109,HD112\n"
        "# hardener: ignore=HD101 -- this image must run as root\n"
        "FROM debian:12\n"
        "# hadolint ignore=DL3020\n"
        "ADD app.py /app/\n"
    )
    write(tmp_path / "Dockerfile", text)
    result = run_cli("check", ".")
    assert result.returncode == 0, result.stdout


def test_discovery_patterns_and_skipped_folders(tmp_path, run_cli):
    for name in [
        "Dockerfile",
        "Dockerfile.prod",
        "api.Dockerfile",
        "Containerfile",
        "sub/dockerfile",
        "Dockerfile.j2",
        "node_modules/x/Dockerfile",
        "ignored/Dockerfile",
        "README.md",
    ]:
        write(tmp_path / name, HARDENED)
    write(tmp_path / ".gitignore", "ignored/\n")
    data = json.loads(run_cli("check", "--format", "json", ".").stdout)
    assert sorted(f["path"] for f in data["files"]) == [
        "Containerfile",
        "Dockerfile",
        "Dockerfile.prod",
        "api.Dockerfile",
        "sub/dockerfile",
    ]


BAD_INPUTS = {
    "invalid instruction": (b"FROM debian:12\nFOO bar\n", "Dockerfile:2: invalid Dockerfile: unknown instruction FOO"),
    "unterminated heredoc": (
        b"FROM debian:12\nRUN true\nRUN <<EOF\necho\n",
        "Dockerfile:3: invalid Dockerfile: ",  # then BuildKit's own words, which change between versions
    ),
    "no FROM": (b"RUN echo hi\n", "Dockerfile:1: invalid Dockerfile: RUN before the first FROM"),
    "not UTF-8": (b"FROM debian:12\nRUN echo \xff\n", "Dockerfile:2: not UTF-8 text (byte 0xff)"),
    "binary": (b"FROM debian:12\n\x00\x01", "Dockerfile:2: binary file (NUL byte)"),
    "empty": (b"", "Dockerfile: empty file"),
    "blank": (b"\n\n  \n", "Dockerfile:1: empty file"),
}


@pytest.mark.parametrize("data,message", BAD_INPUTS.values(), ids=BAD_INPUTS.keys())
def test_bad_input_is_one_line_exit_2_untouched(tmp_path, run_cli, data, message):
    target = write(tmp_path / "Dockerfile", data)
    other = write(tmp_path / "ok" / "Dockerfile", SPLIT_APT)
    result = run_cli("fix", ".")
    assert result.returncode == 2
    [error] = [line for line in result.stdout.splitlines() if line.startswith("error: ")]
    if message.endswith(": "):
        assert error.startswith(f"error: {message}") and len(error) > len(f"error: {message}")
    else:
        assert error == f"error: {message}"
    assert "Traceback" not in result.stderr
    assert target.read_bytes() == data
    assert other.read_text() != SPLIT_APT, "other files are still fixed"


def test_paths_that_cannot_be_used(tmp_path, run_cli):
    (tmp_path / "empty-folder").mkdir()
    result = run_cli("check", "missing", "empty-folder")
    assert result.returncode == 2
    assert "error: missing: no such file or folder" in result.stdout
    assert "error: empty-folder: no Dockerfiles or compose files found here" in result.stdout


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file")
def test_unreadable_file(tmp_path, run_cli):
    target = write(tmp_path / "Dockerfile", SPLIT_APT)
    os.chmod(target, 0)
    result = run_cli("check", ".")
    assert result.returncode == 2 and "cannot read" in result.stdout


def test_unwritable_folder_leaves_file_as_it_was(tmp_path, run_cli):
    folder = tmp_path / "ro"
    target = write(folder / "Dockerfile", SPLIT_APT)
    os.chmod(folder, 0o555)
    try:
        if os.access(folder, os.W_OK):
            pytest.skip("running as root: permissions do not stop writes")
        result = run_cli("fix", ".")
        assert result.returncode == 2 and "cannot write" in result.stdout
        assert target.read_text() == SPLIT_APT
    finally:
        os.chmod(folder, 0o755)


def test_rules_and_explain(run_cli):
    rules = run_cli("rules")
    assert rules.returncode == 0 and "HD101  root-user" in rules.stdout
    listed = json.loads(run_cli("rules", "--format", "json").stdout)
    assert {r["fix"] for r in listed} == {"safe", "behaviour-changing", "report only"}
    explained = run_cli("explain", "root-user")
    assert "CIS Docker Benchmark v1.6 4.1" in explained.stdout and "+USER" in explained.stdout
    assert "Documentation: https://github.com/hardener/hardener/blob/main/docs/rules/HD101.md" in explained.stdout
    assert run_cli("explain", "nope").returncode == 2


def test_version_starts_light():
    code = (
        "import sys; from hardener.cli import main\n"
        "try:\n    main(['--version'])\nexcept SystemExit:\n    pass\n"
        "heavy = {'ruamel', 'libcst', 'github', 'dockerfile', 'httpx', 'rich'} & {m.split('.')[0] for m in sys.modules}\n"
        "print(sorted(heavy))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip().endswith("[]"), result.stdout


def test_trusted_registries_turn_on_the_registry_rule(tmp_path, run_cli):
    write(
        tmp_path / "Dockerfile",
        f"FROM quay.io/acme/base:1{PINNED}\nFROM ghcr.io/acme/tool:2{PINNED}\nUSER 1\nHEALTHCHECK CMD true\n",
    )
    assert run_cli("check", ".").returncode == 0, "off by default"
    write(tmp_path / ".hardener.toml", 'trusted-registries = ["ghcr.io/acme", "docker.io"]\n')
    result = run_cli("check", ".")
    assert result.returncode == 1
    assert "Dockerfile:1:1: HD111 base image `quay.io/acme/base:1@sha256:" in result.stdout
    assert "ghcr.io/acme/tool" not in result.stdout


def test_secret_values_never_appear_in_output(tmp_path, run_cli):
    secret = "s3cr3t-Value-42"
    write(tmp_path / "Dockerfile", f"FROM debian:12\nENV DB_PASSWORD={secret}\nARG API_TOKEN={secret}x\n")
    outputs = [
        run_cli("check", "."),
        run_cli("check", "--format", "json", "."),
        run_cli("fix", "--diff", "--unsafe-fixes", "--format", "json", "."),
        run_cli("fix", "--diff", "--unsafe-fixes", "."),
    ]
    for result in outputs:
        assert "HD107" in result.stdout + result.stderr
        # A diff shows changed lines and context lines; the secret's line is neither.
        text = result.stdout + result.stderr
        assert secret not in text.replace(f"ENV DB_PASSWORD={secret}", "").replace(f"ARG API_TOKEN={secret}x", "")
        assert f"{secret}" not in "".join(line for line in text.splitlines() if "HD107" in line)


def test_read_errors_become_one_line(tmp_path):
    from hardener.files import read_source
    from hardener.model import InputError

    # A folder cannot be read as a file, even by root: the same path as a permission error.
    with pytest.raises(InputError) as caught:
        read_source(str(tmp_path))
    assert str(caught.value).startswith(f"{tmp_path}: cannot read: ")
    big = write(tmp_path / "Dockerfile", b"#" * (5 * 1024 * 1024 + 1))
    with pytest.raises(InputError, match="over the 5242880-byte limit"):
        read_source(str(big))


def test_diff_of_a_file_with_a_byte_order_mark_applies_with_git(tmp_path, run_cli):
    target = write(
        tmp_path / "Dockerfile", codecs.BOM_UTF8 + b"FROM debian:12\nRUN apt-get update && apt-get install -y curl\n"
    )
    diff = subprocess.run(
        [sys.executable, "-m", "hardener", "fix", "--diff", "Dockerfile"], cwd=tmp_path, capture_output=True
    ).stdout
    subprocess.run(["git", "init", "-q", "."], cwd=tmp_path, check=True)
    subprocess.run(["git", "apply", "-"], cwd=tmp_path, input=diff, check=True)
    assert target.read_bytes().startswith(codecs.BOM_UTF8) and b"rm -rf /var/lib/apt/lists/*" in target.read_bytes()


@pytest.mark.parametrize(
    "content,message",
    [
        ("tool = 5\n", "`tool` must be a table"),
        ('[tool]\nhardener = "x"\n', "[tool.hardener] must be a table"),
        ('[tool.hardener]\nuser-name = "-rf"\n', "plain user name"),
    ],
)
def test_malformed_pyproject_is_a_one_line_error(tmp_path, run_cli, content, message):
    write(tmp_path / "pyproject.toml", content)
    write(tmp_path / "Dockerfile", HARDENED)
    result = run_cli("check", ".")
    assert result.returncode == 2 and message in result.stdout and "Traceback" not in result.stderr


def test_parallel_runs_give_the_same_output_in_the_same_order(tmp_path, run_cli):
    from hardener import runner

    for n in range(runner.PARALLEL_THRESHOLD + 6):
        write(tmp_path / f"svc{n:03}" / "Dockerfile", SPLIT_APT)
    write(tmp_path / "svc007" / "compose.yaml", "services:\n  web:\n    image: nginx:1.27\n")
    write(tmp_path / "broken" / "Dockerfile", "FROM debian:12\nFOO bar\n")
    serial = run_cli("check", "-j", "1", ".")
    parallel = run_cli("check", "-j", "2", ".")
    assert serial.stdout == parallel.stdout and serial.returncode == parallel.returncode == 2
    assert "broken/Dockerfile:2: invalid Dockerfile" in parallel.stdout


def test_double_dash_makes_every_later_argument_a_path(tmp_path, run_cli):
    # `hardener fix *` in a folder holding a file named like an option: `--` keeps it a file name.
    target = write(tmp_path / "--unsafe-fixes", SPLIT_APT)
    write(tmp_path / "-o", SPLIT_APT)
    check = run_cli("check", "--", "--unsafe-fixes", "-o")
    assert check.returncode == 1, check.stderr
    assert "--unsafe-fixes:2:1: HD102" in check.stdout and "-o:2:1: HD102" in check.stdout
    assert "Scanned 2 files" in check.stdout
    diff = run_cli("fix", "--diff", "--", "--unsafe-fixes")
    assert diff.returncode == 1 and diff.stdout.startswith("--- a/--unsafe-fixes\n+++ b/--unsafe-fixes\n")
    assert target.read_text() == SPLIT_APT
    fixed = run_cli("fix", "--select", "HD1", "--", "--unsafe-fixes")
    assert fixed.returncode == 1, fixed.stdout + fixed.stderr
    assert "apt-get update && \\" in target.read_text()
    assert "USER" not in target.read_text(), "taken as a file, not as the option: no behaviour-changing fix"
    assert (tmp_path / "-o").read_text() == SPLIT_APT


def test_double_dash_in_the_help(run_cli):
    for command in ("check", "fix"):
        result = run_cli(command, "--help")
        assert "after `--` every argument is a path" in " ".join(result.stdout.split())


def test_a_missing_dependency_is_one_error_line_not_a_traceback(tmp_path):
    # An interpreter that cannot import BuildKit's parser: a stand-in module that fails to load.
    write(tmp_path / "Dockerfile", SPLIT_APT)
    shadow = tmp_path / "shadow"
    write(shadow / "dockerfile.py", "raise ModuleNotFoundError(\"No module named 'dockerfile'\", name='dockerfile')\n")
    env = {**os.environ, "PYTHONPATH": f"{shadow}{os.pathsep}{os.environ.get('PYTHONPATH', '')}", "HARDENER_OFFLINE": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "hardener", "fix", "."], cwd=tmp_path, capture_output=True, text=True, env=env, timeout=120
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "the Python package 'dockerfile' is missing" in result.stderr
    assert (tmp_path / "Dockerfile").read_text() == SPLIT_APT
