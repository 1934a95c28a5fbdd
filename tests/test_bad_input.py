"""The bad-input catalogue (docs/bad-input.md), one test per entry.

Each case goes through the command line as a user runs it and checks the contract: exit code 2, one
line `error: path[:line]: message` naming the file (and the line, when the problem has one), and every
file in the folder byte-identical afterwards. Cases that are not errors (alias bombs, symlinks that
leave the folder, read-only files) check what hardener does instead.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from hardener.files import MAX_BYTES, read_source, write_atomic
from hardener.model import InputError

CLEAN = (
    "FROM debian:12@sha256:eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee\n"
    'USER 1000:1000\nHEALTHCHECK CMD true\nCMD ["bash"]\n'
)
SPLIT_APT = "FROM debian:12\nRUN apt-get update\nRUN apt-get install -y curl\n"
ROOT = os.geteuid() == 0


def write(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data if isinstance(data, bytes) else data.encode())
    return path


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under the folder (but the test's digest cache), byte for byte."""
    out = {}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if rel.startswith(".cache") or path.is_symlink() or not path.is_file():
            continue
        out[rel] = path.read_bytes()
    return out


def error_lines(result) -> list[str]:
    return [line for line in result.stdout.splitlines() if line.startswith("error: ")]


def assert_refused(tmp_path, run_cli, name: str, data: bytes, message: str | re.Pattern, *args):
    """`fix` on the bad file and a folder with a clean neighbour: exit 2, one error line, nothing touched.

    The bad file is named on the command line: a Python module found only by walking a folder, and
    unreadable, is simply not part of the run (see test_walked_python_modules_that_cannot_be_read_are_skipped).
    """
    write(tmp_path / "project" / name, data)
    write(tmp_path / "project" / "ok" / "Dockerfile", CLEAN)
    before = snapshot(tmp_path / "project")
    result = run_cli("fix", *args, name.split("/")[-1] if "/" not in name else name, ".", cwd=tmp_path / "project")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    [line] = error_lines(result)
    if isinstance(message, re.Pattern):
        assert message.fullmatch(line), line
    else:
        assert line == f"error: {message}"
    assert snapshot(tmp_path / "project") == before, "the bad file and every other file are byte-identical"
    return result


# -- invalid syntax ---------------------------------------------------------------------------------
SYNTAX = {
    "Dockerfile": (
        "Dockerfile",
        b"FROM debian:12\nFOO bar\n",
        "Dockerfile:2: invalid Dockerfile: unknown instruction FOO",
    ),
    "Dockerfile heredoc": (
        "Dockerfile",
        b"FROM debian:12\nRUN <<EOF\necho\n",
        # The parser's own wording follows its version: the contract is file, line and kind.
        re.compile(r"error: Dockerfile:2: invalid Dockerfile: .+"),
    ),
    "YAML tab": (
        "compose.yaml",
        b"services:\n\tweb:\n    image: nginx\n",
        re.compile(r"error: compose\.yaml:2: invalid YAML: .+"),
    ),
    "YAML structure": (
        "compose.yaml",
        b"services:\n  web:\n    image: nginx\n  - x\n",
        re.compile(r"error: compose\.yaml:4: invalid YAML: .+"),
    ),
    "Python": (
        "app.py",
        b'import docker\n\nclient = docker.from_env()\nclient.containers.run("nginx", detach=True\n',
        re.compile(r"error: app\.py:[45]: invalid Python: parser error: .*"),
    ),
}


@pytest.mark.parametrize("name,data,message", SYNTAX.values(), ids=SYNTAX.keys())
def test_invalid_syntax(tmp_path, run_cli, name, data, message):
    assert_refused(tmp_path, run_cli, name, data, message)


# -- encodings and binary files, for each kind of file ------------------------------------------------
KINDS = {
    "Dockerfile": (b"FROM debian:12\n", b"RUN echo hi\n"),
    "compose.yaml": (b"services:\n", b"  web:\n    image: nginx\n"),
    "app.py": (b"import docker\n", b"docker.from_env()\n"),
}


@pytest.mark.parametrize("name", KINDS)
def test_not_utf8(tmp_path, run_cli, name):
    head, tail = KINDS[name]
    data = head + b"# caf\xe9 (Latin-1)\n" + tail
    assert_refused(tmp_path, run_cli, name, data, f"{name}:2: not UTF-8 text (byte 0xe9)")


@pytest.mark.parametrize("name", KINDS)
def test_nul_bytes(tmp_path, run_cli, name):
    head, tail = KINDS[name]
    data = head + tail + b"\x00\x01\x02"
    line = data.count(b"\n") + 1
    assert_refused(tmp_path, run_cli, name, data, f"{name}:{line}: binary file (NUL byte)")


@pytest.mark.parametrize("name", KINDS)
def test_empty_file(tmp_path, run_cli, name):
    assert_refused(tmp_path, run_cli, name, b"", f"{name}: empty file")


def test_blank_file_names_its_first_line(tmp_path, run_cli):
    assert_refused(tmp_path, run_cli, "compose.yaml", b"\n  \n\n", "compose.yaml:1: empty file")


def test_python_modules_that_do_not_import_docker_are_not_part_of_the_run(tmp_path, run_cli):
    write(tmp_path / "pkg" / "__init__.py", b"")
    write(tmp_path / "pkg" / "legacy.py", b"NAME = 'caf\xe9'\n")
    write(tmp_path / "Dockerfile", CLEAN)
    result = run_cli("check", ".")
    assert result.returncode == 0, result.stdout


# -- size -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["Dockerfile", "compose.yaml"])
def test_a_50_mb_file_is_refused_without_being_read(tmp_path, run_cli, name):
    size = 50 * 1024 * 1024
    path = tmp_path / "project" / name
    path.parent.mkdir(parents=True)
    with open(path, "wb") as fh:  # a sparse file: the test stays cheap, the size is real
        fh.write(b"FROM debian:12\n" if name == "Dockerfile" else b"services:\n")
        fh.truncate(size)
    started = time.monotonic()
    result = run_cli("fix", ".", cwd=tmp_path / "project")
    elapsed = time.monotonic() - started
    assert result.returncode == 2
    assert error_lines(result) == [f"error: {name}: file is {size} bytes, over the {MAX_BYTES}-byte limit"]
    assert os.path.getsize(path) == size
    assert elapsed < 5, f"refused by its size, not after reading it ({elapsed:.1f} s)"


# -- YAML: aliases, nesting, duplicate keys ---------------------------------------------------------------
def alias_bomb(levels: int = 10, width: int = 9) -> str:
    """Billion laughs: `levels` anchors, each a list of `width` aliases of the one before (width**levels leaves)."""
    lines = [f"x-a0: &a0 [{', '.join(['lol'] * width)}]"]
    for i in range(1, levels):
        lines.append(f"x-a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * width)}]")
    lines += ["services:", "  web:", "    image: nginx:1.27", "    labels:", f"      laughs: *a{levels - 1}", ""]
    return "\n".join(lines)


def test_alias_bomb_is_refused_quickly(tmp_path, run_cli):
    # 9**10 (3.5 billion) strings if expanded. hardener never expands aliases; it measures what they
    # would expand to, on its own tree, and refuses the file before anything (Compose included) reads it.
    write(tmp_path / "compose.yaml", alias_bomb())
    before = snapshot(tmp_path)
    for args in (("check",), ("fix", "--diff")):
        started = time.monotonic()
        result = run_cli(*args, ".")
        elapsed = time.monotonic() - started
        assert result.returncode == 2, result.stdout + result.stderr
        assert "error: compose.yaml:1: its aliases expand to more than 1,000,000 nodes (an alias bomb?)" in (
            result.stdout + result.stderr
        )
        assert elapsed < 5, f"{args}: {elapsed:.1f} s"
    assert snapshot(tmp_path) == before


def test_many_aliases_that_stay_small_are_fine(tmp_path, run_cli):
    write(tmp_path / "compose.yaml", alias_bomb(levels=3, width=5))  # 125 leaves
    assert run_cli("check", ".").returncode == 1


def test_alias_bomb_stays_fast_with_the_compose_check(tmp_path):
    write(tmp_path / "compose.yaml", alias_bomb())
    env = {**os.environ, "HARDENER_OFFLINE": "1", "HARDENER_CACHE_DIR": str(tmp_path / ".cache"), "NO_COLOR": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "hardener", "fix", "--diff", "."],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # so docker compose, its child, is stopped with it
    )
    try:
        process.communicate(timeout=6)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        pytest.fail("fix did not finish within 6 s")
    assert process.returncode == 2  # refused before Docker Compose could expand it


def test_deep_nesting_is_refused(tmp_path, run_cli):
    flow = "services:\n  web:\n    image: nginx\n    labels: " + "[" * 300 + "]" * 300 + "\n"
    started = time.monotonic()
    assert_refused(tmp_path, run_cli, "compose.yaml", flow.encode(), "compose.yaml:4: nested deeper than 200 levels")
    block = "services:\n  web:\n    image: nginx\n    x-deep:\n"
    block += "".join("      " + "  " * i + f"k{i}:\n" for i in range(250))
    (tmp_path / "project" / "compose.yaml").write_text(block)
    result = subprocess_check(tmp_path / "project")
    assert error_lines(result) == ["error: compose.yaml:202: nested deeper than 200 levels"]
    assert time.monotonic() - started < 10


def subprocess_check(cwd: Path):
    env = {**os.environ, "HARDENER_OFFLINE": "1", "HARDENER_CACHE_DIR": str(cwd / ".cache"), "NO_COLOR": "1"}
    return subprocess.run(
        [sys.executable, "-m", "hardener", "check", "."], cwd=cwd, capture_output=True, text=True, env=env
    )


def test_nesting_of_200_levels_is_accepted(tmp_path, run_cli):
    # services + web + labels: three levels, then 197 lists: exactly 200 open collections.
    text = "services:\n  web:\n    image: nginx:1.27\n    labels: " + "[" * 197 + "]" * 197 + "\n"
    write(tmp_path / "compose.yaml", text)
    result = run_cli("check", ".")
    assert result.returncode == 1 and not error_lines(result), result.stdout


def test_duplicate_keys(tmp_path, run_cli):
    data = b"services:\n  web:\n    image: nginx:1.27\n    image: redis:7\n"
    assert_refused(tmp_path, run_cli, "compose.yaml", data, "compose.yaml:4: duplicate key 'image' (first on line 3)")


# -- line endings -----------------------------------------------------------------------------------------
def test_bare_cr_compose(tmp_path, run_cli):
    data = b"services:\r  web:\r    image: nginx\r"
    message = "compose.yaml:1: bare carriage-return line endings (old Mac style) are not supported"
    assert_refused(tmp_path, run_cli, "compose.yaml", data, message)


def test_bare_cr_dockerfile(tmp_path, run_cli):
    data = b"FROM debian:12\rRUN apt-get update\rRUN apt-get install -y curl\r"
    message = "Dockerfile:1: bare carriage-return line endings (old Mac style) are not supported"
    assert_refused(tmp_path, run_cli, "Dockerfile", data, message, "--unsafe-fixes")


def test_bare_cr_python(tmp_path, run_cli):
    data = b'import docker\rc = docker.from_env()\rc.containers.run("nginx")\r'
    message = "app.py:1: bare carriage-return line endings (old Mac style) are not supported"
    assert_refused(tmp_path, run_cli, "app.py", data, message)


# -- the file system -----------------------------------------------------------------------------------------
def test_symlinks_out_of_the_folder_are_not_followed(tmp_path, run_cli):
    outside = write(tmp_path / "outside" / "Dockerfile", SPLIT_APT)
    write(tmp_path / "outside" / "compose.yaml", "services:\n  web:\n    image: nginx:1.27\n")
    project = tmp_path / "project"
    write(project / "Dockerfile", CLEAN)
    (project / "linked").mkdir()
    os.symlink(outside, project / "linked" / "Dockerfile")  # a file link leaving the folder
    os.symlink(tmp_path / "outside", project / "vendor")  # a folder link leaving it
    os.symlink("/etc/passwd", project / "Containerfile")  # an absolute one
    before = snapshot(tmp_path)
    result = run_cli("fix", "--unsafe-fixes", "--format", "json", ".", cwd=project)
    import json

    assert [f["path"] for f in json.loads(result.stdout)["files"]] == ["Dockerfile"]
    assert result.returncode == 0, result.stdout
    assert snapshot(tmp_path) == before and outside.read_text() == SPLIT_APT


def test_symlink_inside_the_folder_is_read_once_and_its_target_written(tmp_path, run_cli):
    target = write(tmp_path / "real" / "Dockerfile", SPLIT_APT)
    os.symlink("real/Dockerfile", tmp_path / "Dockerfile")
    result = run_cli("fix", "--select", "HD102,HD104", ".")
    assert result.returncode == 0, result.stdout
    assert (tmp_path / "Dockerfile").is_symlink(), "the link stays a link"
    assert "apt-get update && \\" in target.read_text()
    assert "Scanned 1 file." in result.stdout


def test_fifo_in_the_folder_is_refused_not_waited_on(tmp_path):
    write(tmp_path / "Dockerfile", CLEAN)
    (tmp_path / "pipe").mkdir()
    os.mkfifo(tmp_path / "pipe" / "Dockerfile")
    env = {**os.environ, "HARDENER_OFFLINE": "1", "HARDENER_CACHE_DIR": str(tmp_path / ".cache")}
    try:
        result = subprocess.run(
            [sys.executable, "-m", "hardener", "check", "."],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            env=env,
            timeout=3,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("hardener waited on the FIFO")
    assert result.returncode == 2 and "pipe/Dockerfile" in result.stdout


@pytest.mark.skipif(ROOT, reason="root reads every file, whatever its mode")
def test_unreadable_file(tmp_path, run_cli):
    path = write(tmp_path / "project" / "Dockerfile", SPLIT_APT)
    os.chmod(path, 0)
    try:
        result = run_cli("fix", ".", cwd=tmp_path / "project")
        assert result.returncode == 2
        assert error_lines(result) == ["error: Dockerfile: cannot read: Permission denied"]
    finally:
        os.chmod(path, 0o644)
    assert path.read_text() == SPLIT_APT


def test_a_path_that_cannot_be_read_as_a_file(tmp_path):
    # What an unreadable file gives, shown in a way root cannot bypass: a folder opened as a file.
    with pytest.raises(InputError) as caught:
        read_source(str(tmp_path))
    assert str(caught.value).startswith(f"{tmp_path}: cannot read: ")


@pytest.mark.skipif(ROOT, reason="root may write into a read-only folder")
def test_read_only_folder(tmp_path, run_cli):
    folder = tmp_path / "project"
    path = write(folder / "Dockerfile", SPLIT_APT)
    os.chmod(folder, 0o555)
    try:
        result = run_cli("fix", "--select", "HD102", ".", cwd=folder)
        assert result.returncode == 2
        [line] = error_lines(result)
        assert line.startswith("error: Dockerfile: cannot write: Permission denied"), line
        assert path.read_text() == SPLIT_APT
        assert sorted(p.name for p in folder.iterdir()) == ["Dockerfile"], "no temporary file is left"
    finally:
        os.chmod(folder, 0o755)


def test_read_only_file_as_root_is_fixed_and_keeps_its_mode(tmp_path, run_cli):
    if not ROOT:
        pytest.skip("see test_read_only_file_is_refused_for_its_owner")
    path = write(tmp_path / "Dockerfile", SPLIT_APT)
    os.chmod(path, 0o444)
    result = run_cli("fix", "--select", "HD102", ".")
    assert result.returncode == 0, result.stdout
    assert "apt-get update && \\" in path.read_text()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o444


@pytest.mark.skipif(ROOT, reason="root may write any file; covered by the root test above")
def test_read_only_file_is_refused_for_its_owner(tmp_path, run_cli):
    path = write(tmp_path / "Dockerfile", SPLIT_APT)
    os.chmod(path, 0o444)
    result = run_cli("fix", "--select", "HD102", ".")
    assert result.returncode == 2 and error_lines(result)[0].startswith("error: Dockerfile: ")
    assert path.read_text() == SPLIT_APT


# -- races -------------------------------------------------------------------------------------------------------
def test_file_changed_between_read_and_write_is_not_written(tmp_path):
    path = write(tmp_path / "Dockerfile", SPLIT_APT)
    source = read_source(str(path))
    theirs = SPLIT_APT + "# edited by someone else meanwhile\n"
    path.write_text(theirs)
    with pytest.raises(InputError) as caught:
        write_atomic(source, "FROM debian:12\n")
    assert str(caught.value) == f"{path}: file changed while hardener was working on it; not written"
    assert path.read_text() == theirs
    assert [p.name for p in tmp_path.iterdir()] == ["Dockerfile"], "no temporary file is left"


def test_file_replaced_with_the_same_bytes_is_written(tmp_path):
    # The check compares content, not timestamps: a touch or a checkout of the same bytes is no conflict.
    path = write(tmp_path / "Dockerfile", SPLIT_APT)
    source = read_source(str(path))
    path.unlink()
    write(path, SPLIT_APT)
    write_atomic(source, "FROM debian:12\n")
    assert path.read_text() == "FROM debian:12\n"


def test_kill_during_a_write_leaves_old_or_new_never_a_mix(tmp_path):
    """SIGKILL `hardener fix` mid-run, again and again: each file is always its original or its fixed text."""
    from hardener import engine
    from hardener.config import Config

    folder = tmp_path / "project"
    variants = [SPLIT_APT.replace("curl", f"curl pkg{n} " + "x" * (n * 97 % 4000)) for n in range(40)]
    expected = {}
    for n in range(240):
        original = variants[n % len(variants)]
        path = write(folder / f"svc{n:03}" / "Dockerfile", original)
        config = Config(select=("HD102", "HD104"))
        fixed = engine.fix_text(original, str(path), config).fixed
        assert fixed != original
        expected[path] = (original, fixed)
    watched = folder / "svc239" / "Dockerfile"
    seen, stop = set(), threading.Event()

    def watch():
        while not stop.is_set():
            data = watched.read_text()
            seen.add(data)

    reader = threading.Thread(target=watch, daemon=True)
    reader.start()
    env = {**os.environ, "HARDENER_OFFLINE": "1", "HARDENER_CACHE_DIR": str(tmp_path / ".cache")}
    kills = 0
    try:
        for delay in (0.7, 1.0, 1.3, 1.6, 60):
            process = subprocess.Popen(
                [sys.executable, "-m", "hardener", "fix", "--select", "HD102,HD104", "-j", "2", "."],
                cwd=folder,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,  # the pool's workers die with it
            )
            try:
                process.wait(timeout=delay)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
                kills += 1
            time.sleep(0.05)
            for path, (original, fixed) in expected.items():
                assert path.read_text() in (original, fixed), f"{path} is neither old nor new"
            if all(path.read_text() == fixed for path, (_, fixed) in expected.items()):
                break
    finally:
        stop.set()
        reader.join()
    assert kills >= 1, "the run was never interrupted: make it longer"
    assert seen <= set(expected[watched]), "the reader saw a half-written file"
    assert all(path.read_text() == fixed for path, (_, fixed) in expected.items()), "the last run finished the job"
    # A kill between mkstemp and rename may leave a temporary file: hidden, and never read as a Dockerfile.
    leftovers = [p for p in folder.rglob("*") if p.is_file() and p.name != "Dockerfile"]
    assert all(re.fullmatch(r"\.Dockerfile\..+\.hardener", p.name) for p in leftovers), leftovers


def test_walked_python_modules_that_cannot_be_read_are_skipped(tmp_path, run_cli):
    write(tmp_path / "pkg" / "__init__.py", b"")
    write(tmp_path / "pkg" / "legacy.py", b"# caf\xe9\n")
    write(tmp_path / "Dockerfile", CLEAN)
    result = run_cli("check", ".")
    assert result.returncode == 0, result.stdout


def test_a_file_that_could_not_be_written_is_not_reported_as_fixed(tmp_path):
    """The report says what is on disk: a refused write leaves the findings, and no "fixed" line."""
    path = write(tmp_path / "Dockerfile", SPLIT_APT)
    os.chmod(path, 0o444)
    # As root, drop the capabilities that let root write a read-only file, so the owner's view holds.
    prefix = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search,-fowner", "--"] if ROOT else []
    if prefix and not shutil.which("setpriv"):
        pytest.skip("setpriv (util-linux) is needed to write as root without its file capabilities")
    env = {**os.environ, "HARDENER_OFFLINE": "1", "HARDENER_CACHE_DIR": str(tmp_path / ".cache"), "NO_COLOR": "1"}
    result = subprocess.run(
        [*prefix, sys.executable, "-m", "hardener", "fix", "--select", "HD102", "."],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert error_lines(result) == ["error: Dockerfile: file is read-only; not written"]
    assert "fixed" not in result.stdout.replace("Fixed 0", ""), result.stdout
    assert "Dockerfile:2:1: HD102" in result.stdout, "the finding is still reported"
    assert path.read_text() == SPLIT_APT
