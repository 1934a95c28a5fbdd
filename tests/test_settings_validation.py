"""Settings are validated by type and pattern before anything is touched, and found only inside the tree.

A settings file comes from the repository, so from an untrusted pull request: a value hardener writes into
a file (a memory limit, a capability) must be exactly that value, and a path it reads (the lock file, the
CA bundle) must be a small regular file, the lock file inside the repository. A bad value is one line
naming the settings file, the line and the key, exit 2, and no file changes.
"""

from __future__ import annotations

import os
import resource
import ssl
import subprocess
import sys

import pytest

from hardener.config import Config, ConfigFinder, config_from_mapping, load_config_file
from hardener.model import InputError

COMPOSE = "services:\n  web:\n    image: nginx:1.27\n"


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    "setting,message",
    [
        ('memory-limit = "512m\\nprivileged: true"', "'memory-limit' must be a size"),
        ('memory-limit = "512m # x"', "'memory-limit' must be a size"),
        ('memory-limit = "0"', "'memory-limit' must be a size"),
        ('memory-limit = "-1g"', "'memory-limit' must be a size"),
        ("memory-limit = true", "'memory-limit' must be a size"),
        ('cpu-limit = "0.5\\n    privileged: true"', "'cpu-limit' must be a number of CPUs"),
        ('cpu-limit = "0"', "'cpu-limit' must be a number of CPUs"),
        ("cpu-limit = -1", "'cpu-limit' must be a number of CPUs"),
        ("pids-limit = 0", "'pids-limit' must be a positive integer"),
        ('pids-limit = "256"', "'pids-limit' must be a positive integer"),
        ('select = ["HD999"]', "'select': unknown rule 'HD999'"),
        ('ignore = ["HD1\\n"]', "'ignore': 'HD1\\n' is not a rule id"),
        ('trusted-registries = ["ghcr.io/acme\\n"]', "'trusted-registries': 'ghcr.io/acme\\n' is not a registry"),
        ('insecure-registries = ["registry.lan:5000/path"]', "'insecure-registries': 'registry.lan:5000/path' is not"),
        ('exclude = ["vendor/\\n!x"]', "'exclude': 'vendor/\\n!x' is not a file name pattern"),
        ('compose-files = [""]', "'compose-files': '' is not a file name pattern"),
        ('image-capabilities = { "nginx" = ["NET_ADMIN\\n  privileged: true"] }', "is not a capability"),
        ('image-capabilities = { "x y" = ["NET_ADMIN"] }', "'x y' is not an image name"),
        ("compose-check = 1", "'compose-check' must be true or false"),
        ('limits-style = "both"', "'limits-style' must be one of service, deploy"),
        ("digest-cache-ttl = -5", "'digest-cache-ttl' must be a number of seconds"),
        ('registry-ca-bundle = ""', "'registry-ca-bundle' must be a path"),
    ],
)
def test_bad_value_is_one_line_naming_file_line_and_key(tmp_path, run_cli, setting, message):
    write(tmp_path / ".hardener.toml", f"# settings\nunsafe-fixes = true\n{setting}\n")
    compose = write(tmp_path / "compose.yaml", COMPOSE)
    result = run_cli("fix", ".")
    assert result.returncode == 2, result.stdout
    errors = [line for line in result.stdout.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, result.stdout
    assert errors[0].startswith(f"error: {tmp_path / '.hardener.toml'}:3: setting ")
    assert message in errors[0]
    assert "Traceback" not in result.stderr
    assert compose.read_text() == COMPOSE


def test_a_newline_in_a_limit_never_reaches_the_compose_file(tmp_path, run_cli):
    write(tmp_path / "pyproject.toml", '[tool.hardener]\nmemory-limit = "1g\\n    privileged: true"\n')
    compose = write(tmp_path / "compose.yaml", COMPOSE)
    result = run_cli("fix", "--unsafe-fixes", ".")
    assert result.returncode == 2
    assert "pyproject.toml:2: setting 'memory-limit' must be a size" in result.stdout
    assert compose.read_text() == COMPOSE


def test_good_values_are_written_as_given(tmp_path, run_cli):
    write(tmp_path / ".hardener.toml", 'memory-limit = "1.5g"\ncpu-limit = 2\npids-limit = 64\nselect = ["HD203"]\n')
    compose = write(tmp_path / "compose.yaml", COMPOSE)
    result = run_cli("fix", "--unsafe-fixes", ".")
    assert result.returncode == 0, result.stdout
    text = compose.read_text()
    assert "mem_limit: 1.5g" in text and "pids_limit: 64" in text and "cpus:" in text
    for value in ("512m", "1g", "1073741824", "65536kb", "2G"):
        assert config_from_mapping({"memory-limit": value}, "s").memory_limit == value
    assert config_from_mapping({"memory-limit": 1073741824}, "s").memory_limit == "1073741824"
    assert config_from_mapping({"cpu-limit": 0.25}, "s").cpu_limit == "0.25"
    assert config_from_mapping(
        {"trusted-registries": ["docker.io/library", "*.gcr.io", "registry.lan:5000/team"]}, "s"
    ).trusted_registries == ("docker.io/library", "*.gcr.io", "registry.lan:5000/team")
    assert config_from_mapping({"insecure-registries": ["[::1]:5000", "registry.lan"]}, "s").insecure_registries
    assert config_from_mapping({"select": ["HD1", "root-user", "ALL"]}, "s").select == ("HD1", "root-user", "ALL")


def test_the_line_is_found_in_the_hardener_table_of_pyproject(tmp_path):
    path = write(
        tmp_path / "pyproject.toml",
        '[tool.ruff]\nselect = ["E"]\n\n[tool.hardener]\nignore = []\nselect = ["HD998"]\n',
    )
    with pytest.raises(InputError) as caught:
        load_config_file(path)
    assert (caught.value.line, caught.value.path) == (6, str(path))
    path = write(tmp_path / ".hardener.toml", '[image-capabilities]\n"nginx" = ["NET ADMIN"]\n')
    with pytest.raises(InputError) as caught:
        load_config_file(path)
    assert caught.value.line == 1 and "is not a capability" in caught.value.message


# -- paths: the lock file inside the repository, both small regular files


def run_bounded(*args, cwd):
    """The CLI with a time and memory bound: reading a device or a FIFO must fail, not hang or fill memory."""

    def limit_memory():
        resource.setrlimit(resource.RLIMIT_AS, (2 * 1024**3, 2 * 1024**3))

    env = {**os.environ, "NO_COLOR": "1", "HARDENER_OFFLINE": "1", "HARDENER_CACHE_DIR": str(cwd / ".cache")}
    return subprocess.run(
        [sys.executable, "-m", "hardener", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=limit_memory,
    )


@pytest.fixture
def repo(tmp_path):
    root = tmp_path / "repo"
    (root / ".git").mkdir(parents=True)
    write(root / "compose.yaml", COMPOSE)
    return root


def lock_error(repo, run_cli, value) -> str:
    write(repo / ".hardener.toml", f"select = ['HD207']\ndigest-lock-file = {value!r}\n")
    result = run_bounded("check", ".", cwd=repo)
    assert result.returncode == 2, result.stdout
    assert "Traceback" not in result.stderr
    line = next(line for line in result.stdout.splitlines() if line.startswith("error: "))
    assert line.startswith(f"error: {repo / '.hardener.toml'}:2: setting 'digest-lock-file' ")
    return line


def test_lock_file_may_not_be_a_device_or_leave_the_repository(repo, run_cli, tmp_path):
    assert "outside the repository" in lock_error(repo, run_cli, "/dev/zero")
    write(tmp_path / "outside.json", "{}")
    assert "outside the repository" in lock_error(repo, run_cli, "../outside.json")
    assert "outside the repository" in lock_error(repo, run_cli, str(tmp_path / "outside.json"))
    (repo / "link.json").symlink_to(tmp_path / "outside.json")
    assert "outside the repository" in lock_error(repo, run_cli, "link.json")
    (repo / "zero.json").symlink_to("/dev/zero")
    assert "outside the repository" in lock_error(repo, run_cli, "zero.json")
    os.mkfifo(repo / "fifo.json")
    assert "must be a regular file" in lock_error(repo, run_cli, "fifo.json")
    (repo / "folder.json").mkdir()
    assert "must be a regular file" in lock_error(repo, run_cli, "folder.json")
    with open(repo / "huge.json", "wb") as fh:
        fh.truncate(2 * 1024 * 1024)  # sparse: large on paper only
    assert "is larger than 1048576 bytes" in lock_error(repo, run_cli, "huge.json")


def test_lock_file_inside_the_repository_is_read(repo, run_cli):
    digest = "sha256:" + "a" * 64
    write(repo / "locks" / "digests.json", f'{{"nginx:1.27": "{digest}"}}')
    write(repo / ".hardener.toml", 'select = ["HD207"]\ndigest-lock-file = "locks/digests.json"\n')
    result = run_cli("fix", ".", cwd=repo)
    assert result.returncode == 0, result.stdout
    assert f"image: nginx:1.27@{digest}" in (repo / "compose.yaml").read_text()
    # A lock file not written yet is not an error.
    write(repo / ".hardener.toml", 'select = ["HD207"]\ndigest-lock-file = "missing.json"\n')
    assert run_cli("check", ".", cwd=repo).returncode == 0


def test_ca_bundle_must_be_a_readable_file_of_certificates(repo, run_cli, tmp_path):
    def error(value):
        write(repo / ".hardener.toml", f"registry-ca-bundle = {value!r}\n")
        result = run_bounded("check", ".", cwd=repo)
        assert result.returncode == 2 and "Traceback" not in result.stderr
        return next(line for line in result.stdout.splitlines() if line.startswith("error: "))

    assert "'registry-ca-bundle' cannot be read: No such file or directory" in error("certs/ca.pem")
    assert "'registry-ca-bundle' must be a regular file" in error("/dev/zero")
    write(repo / "certs" / "ca.pem", "not a certificate\n")
    assert "'registry-ca-bundle' holds no PEM certificates" in error("certs/ca.pem")
    with open(repo / "certs" / "huge.pem", "wb") as fh:
        fh.truncate(5 * 1024 * 1024)
    assert "'registry-ca-bundle' is larger than 4 MiB" in error("certs/huge.pem")
    os.mkfifo(repo / "certs" / "fifo.pem")
    assert "'registry-ca-bundle' must be a regular file" in error("certs/fifo.pem")


def test_ca_bundle_is_relative_to_the_settings_file(repo, tmp_path):
    ca = os.path.realpath(ssl.get_default_verify_paths().cafile or "")
    if not os.path.isfile(ca):
        pytest.skip("no system CA bundle to copy")
    write(repo / "svc" / "certs" / "ca.pem", open(ca).read())
    write(repo / "svc" / ".hardener.toml", 'registry-ca-bundle = "certs/ca.pem"\n')
    config = load_config_file(repo / "svc" / ".hardener.toml")
    assert config.registry_ca_bundle == str(repo / "svc" / "certs" / "ca.pem")


# -- where the search for settings stops


def test_search_stops_at_the_repository_root(tmp_path, run_cli):
    write(tmp_path / ".hardener.toml", "colour = true\n")  # above the repository: never read
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    write(repo / "svc" / "compose.yaml", COMPOSE)
    result = run_cli("check", "svc", cwd=repo)
    assert result.returncode == 1 and "colour" not in result.stdout, result.stdout
    finder = ConfigFinder()
    assert finder.for_path(repo / "svc" / "compose.yaml") == Config()


def test_without_a_repository_the_search_stays_below_where_the_run_started(tmp_path, run_cli):
    write(tmp_path / ".hardener.toml", "colour = true\n")  # above the run: never read
    project = tmp_path / "project"
    write(project / "svc" / "compose.yaml", COMPOSE)
    write(project / ".hardener.toml", 'select = ["HD201"]\n')
    # From the project folder.
    result = run_cli("check", "svc", cwd=project)
    assert result.returncode == 1 and "colour" not in result.stdout, result.stdout
    assert "HD201" in result.stdout and "HD202" not in result.stdout
    # A path named outside the current folder: its own folder is where the search stops.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = run_cli("check", str(project), cwd=elsewhere)
    assert result.returncode == 1 and "colour" not in result.stdout, result.stdout
    assert "HD201" in result.stdout and "HD202" not in result.stdout
    result = run_cli("check", str(project / "svc"), cwd=elsewhere)
    assert "colour" not in result.stdout and "HD202" in result.stdout  # project/ is above the named path


def test_finder_with_named_roots(tmp_path, monkeypatch):
    write(tmp_path / ".hardener.toml", "colour = true\n")
    write(tmp_path / "a" / ".hardener.toml", 'select = ["HD201"]\n')
    deep = tmp_path / "a" / "b" / "c"
    deep.mkdir(parents=True)
    monkeypatch.chdir(deep)
    # Named: a/ is where the run starts, so its settings apply below it and nothing above is read.
    finder = ConfigFinder(roots=[str(tmp_path / "a")])
    assert finder.for_path(deep / "compose.yaml").select == ("HD201",)
    # Not named: the current folder is where the run started.
    assert ConfigFinder().for_path(deep / "compose.yaml") == Config()


def test_settings_file_linking_out_of_the_repository_is_not_read(repo, run_cli, tmp_path):
    write(tmp_path / "elsewhere.toml", 'select = ["HD201"]\n')
    (repo / ".hardener.toml").symlink_to(tmp_path / "elsewhere.toml")
    result = run_cli("check", ".", cwd=repo)
    assert result.returncode == 2
    assert f"{repo / '.hardener.toml'}: is outside the repository (following symbolic links); not read" in result.stdout


def test_settings_file_that_is_not_a_regular_file(repo, run_cli):
    os.mkfifo(repo / "pyproject.toml")
    result = run_bounded("check", "--config", "pyproject.toml", ".", cwd=repo)
    assert result.returncode == 2 and "pyproject.toml: is not a regular file (a device, pipe or socket); not read" in result.stdout
    os.remove(repo / "pyproject.toml")
    (repo / "big.toml").write_bytes(b"# " + b"x" * (1024 * 1024) + b"\n")
    result = run_cli("check", "--config", "big.toml", ".", cwd=repo)
    assert result.returncode == 2 and "big.toml: is larger than 1048576 bytes; not read" in result.stdout



def test_a_settings_file_that_is_not_a_regular_file_is_refused_not_passed_over(repo, run_cli):
    # Passing over it would silently apply the settings of a folder further up.
    write(repo / ".hardener.toml", "select = ['HD999']\n")
    write(repo / "sub" / "Dockerfile", "FROM debian:12\n")
    os.mkfifo(repo / "sub" / ".hardener.toml")
    result = run_cli("check", "sub", cwd=repo)
    assert result.returncode == 2
    assert [line for line in result.stdout.splitlines() if line.startswith("error: ")] == [
        f"error: {repo / 'sub' / '.hardener.toml'}: is not a regular file (a device, pipe or socket); not read"
    ]
    os.unlink(repo / "sub" / ".hardener.toml")
    os.symlink("/dev/zero", repo / "sub" / ".hardener.toml")
    assert "is outside the repository" in run_cli("check", "sub", cwd=repo).stdout


def test_invalid_toml_names_its_line(repo):
    write(repo / ".hardener.toml", "select = ['HD101']\nx = \n")
    with pytest.raises(InputError) as caught:
        load_config_file(repo / ".hardener.toml")
    assert caught.value.line == 2 and "at line" not in caught.value.message


def test_a_bad_settings_file_is_one_error_however_many_files_it_covers(repo, run_cli):
    write(repo / "sub" / ".hardener.toml", 'memory-limit = "x"\n')
    for name in ("Dockerfile", "Dockerfile.two", "compose.yaml"):
        write(repo / "sub" / name, "FROM debian:12\n" if name != "compose.yaml" else COMPOSE)
    result = run_cli("fix", ".", cwd=repo)
    errors = [line for line in result.stdout.splitlines() if line.startswith("error: ")]
    assert errors == [f"error: {repo / 'sub' / '.hardener.toml'}:1: setting 'memory-limit' " + errors[0].split("'memory-limit' ")[1]]
    assert result.returncode == 2
    assert "compose.yaml" in result.stdout, "files outside the bad settings' folder are still fixed"


@pytest.mark.parametrize("value", [512, "512", "4k", "5m", "100b"])
def test_a_memory_limit_no_container_starts_with_is_refused(value):
    with pytest.raises(InputError, match="Docker needs at least 6m"):
        config_from_mapping({"memory-limit": value}, ".hardener.toml")


@pytest.mark.parametrize("value", ["6m", "512m", "1g", "1.5g", "1048576k", 6291456])
def test_memory_limits_docker_accepts_are_kept(value):
    assert config_from_mapping({"memory-limit": value}, ".hardener.toml").memory_limit == str(value)
