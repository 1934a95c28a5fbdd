""".pre-commit-hooks.yaml: valid for pre-commit, matching the files hardener discovers, and run as pre-commit runs it."""

import fnmatch
import os
import re
import shlex
import shutil
import subprocess
import sys

import pytest

from hardener.discovery import GITHUB_FOLDERS, SKIPPED_FOLDERS
from hardener.kinds import _NOT_SOURCES, all_kinds, kind_named, kind_of_name

from .conftest import ROOT

clientlib = pytest.importorskip("pre_commit.clientlib", reason="pre-commit is in the test extra")
identify = pytest.importorskip("identify.identify")

MANIFEST = ROOT / ".pre-commit-hooks.yaml"
HOOKS = {hook["id"]: hook for hook in clientlib.load_manifest(str(MANIFEST))}
PINNED = "@sha256:" + "e" * 64
# Every finding here has a safe fix: `check` reports, `fix` leaves nothing behind.
FIXABLE = f"FROM debian:12{PINNED}\nRUN apt-get update\nRUN apt-get install -y --no-install-recommends curl\nUSER 10001:10001\nHEALTHCHECK CMD curl -f http://localhost/ || exit 1\n"
FIXED = f"FROM debian:12{PINNED}\nRUN apt-get update && \\\n    apt-get install -y --no-install-recommends curl && \\\n    rm -rf /var/lib/apt/lists/*\nUSER 10001:10001\nHEALTHCHECK CMD curl -f http://localhost/ || exit 1\n"
NOT_DOCKER = "import os\n\nprint(os.getcwd())\n"


def selects(hook, path: str) -> bool:
    """Whether pre-commit passes this path to the hook: `files`, `exclude`, then the `identify` types."""
    if not re.search(hook["files"], path) or re.search(hook["exclude"], path):
        return False
    return True  # every name here is a plain file, which `types: [file]` accepts


def discovered(name: str) -> str | None:
    """The kind hardener's discovery gives a file name, honouring what a kind declares is not one of its files."""
    kind = kind_of_name(name)
    lower = name.lower()
    if kind and any(fnmatch.fnmatchcase(lower, p) for p in getattr(kind_named(kind), "not_patterns", ())):
        # Another kind may claim it: dockerfile_parser.py is a Python module.
        others = (
            k.name for k in all_kinds() if k.name != kind and any(fnmatch.fnmatchcase(lower, p) for p in k.patterns)
        )
        return next(others, None)
    return kind


def names_from_patterns() -> list[str]:
    """Names each kind's discovery patterns match, in several spellings and cases."""
    names = []
    for kind in all_kinds():
        for pattern in kind.patterns:
            for filler in ("prod", "dev.local", "x"):
                name = pattern.replace("*", filler)
                names += [name, name.upper(), name.title()]
    return names


def test_the_manifest_is_valid_for_pre_commit():
    # load_manifest checks every hook against pre-commit's own schema, and raises on an unknown or bad key.
    assert set(HOOKS) == {"hardener-check", "hardener-fix"}
    assert HOOKS["hardener-check"]["entry"] == "hardener check"
    assert HOOKS["hardener-fix"]["entry"] == "hardener fix"
    for hook in HOOKS.values():
        assert hook["language"] == "python" and hook["pass_filenames"] and hook["args"] == []
        assert hook["types"] == ["file"] and hook["files"] == HOOKS["hardener-check"]["files"]
        re.compile(hook["files"])


@pytest.mark.parametrize("hook_id", sorted(HOOKS))
def test_files_matches_every_name_hardener_discovers(hook_id):
    hook = HOOKS[hook_id]
    named = [
        "Dockerfile",
        "Containerfile",
        "Dockerfile.prod",
        "Dockerfile-dev",
        "Dockerfile_dev",
        "api.Dockerfile",
        "compose.yaml",
        "docker-compose.yml",
        "docker-compose.dev.yml",
        "compose-prod.yaml",
        "compose.prod.yaml",
        "prod.compose.yaml",
        "docker-compose_test.yml",
        "start.py",
    ]
    for name in named + names_from_patterns():
        if discovered(name) is None:
            continue  # a spelling a pattern allows that another rule (templates, not_patterns) takes back
        for path in (name, f"deploy/api/{name}", f".github/{name}"):
            assert selects(hook, path), f"{hook_id} misses {path}, which hardener discovers as {discovered(name)}"
    assert all(discovered(name) for name in named)


@pytest.mark.parametrize("hook_id", sorted(HOOKS))
def test_files_skips_what_hardener_does_not_read(hook_id):
    hook = HOOKS[hook_id]
    not_sources = ["README.md", "Dockerfile.j2", "docs/compose.yaml.md", "mycompose.yaml", "dockerfiles/notes"]
    not_sources += [f"{stem}{suffix}" for stem in ("Dockerfile", "Containerfile.prod") for suffix in _NOT_SOURCES]
    for name in not_sources:
        assert discovered(name.rsplit("/", 1)[-1]) is None, name
        assert not selects(hook, name), f"{hook_id} passes {name}, which hardener does not read"
    # A kind's own exclusions: dockerfile_test.go is Go, dockerfile-lint.yml nothing hardener reads, and
    # dockerfile_parser.py a Python module.
    for kind in all_kinds():
        for name in (p.replace("*", "test") for p in getattr(kind, "not_patterns", ())):
            assert selects(hook, name) == (discovered(name) is not None), name
    # BuildKit reads Dockerfile.dockerignore as the ignore file of that Dockerfile, not as one.
    assert not selects(hook, "Dockerfile.dockerignore") and not selects(hook, "web/Dockerfile.prod.dockerignore")
    # Folders hardener never walks: a named file there would be read (a workflow read as a compose file).
    for folder in sorted(SKIPPED_FOLDERS):
        assert not selects(hook, f"{folder}/Dockerfile") and not selects(hook, f"web/{folder}/pkg/compose.yaml")
    for folder in sorted(GITHUB_FOLDERS):
        assert not selects(hook, f".github/{folder}/docker-compose.yml")
    assert selects(hook, "myvenv/Dockerfile") and selects(hook, "workflows/compose.yaml")


def _git(repo, *args):
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


@pytest.fixture
def repository(tmp_path):
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    repo = tmp_path / "repo"
    (repo / "api").mkdir(parents=True)
    (repo / "api" / "Dockerfile").write_text(FIXABLE)
    (repo / "tools.py").write_text(NOT_DOCKER)
    (repo / "README.md").write_text("# project\n")
    _git(repo, "init", "-q")
    _git(repo, "add", ".")
    return repo


def run_hook(hook_id, repo, tmp_path):
    """The hook's command as pre-commit builds it: the entry split as a shell would, its args, then the files."""
    hook = HOOKS[hook_id]
    staged = subprocess.run(["git", "ls-files"], cwd=repo, check=True, capture_output=True, text=True).stdout
    files = [path for path in staged.splitlines() if selects(hook, path)]
    assert all("file" in identify.tags_from_path(str(repo / path)) for path in files)
    bin_dir = os.path.dirname(sys.executable)  # pre-commit's own environment puts its bin folder first
    command = shlex.split(hook["entry"]) + hook["args"] + files
    executable = shutil.which(command[0], path=bin_dir) or shutil.which(command[0])
    assert executable, "the hardener console script is not installed"
    env = {
        **os.environ,
        "PATH": bin_dir + os.pathsep + os.environ.get("PATH", ""),
        "NO_COLOR": "1",
        "HARDENER_OFFLINE": "1",
        "HARDENER_CACHE_DIR": str(tmp_path / ".cache"),
    }
    result = subprocess.run([executable, *command[1:]], cwd=repo, capture_output=True, text=True, env=env)
    return files, result


def test_check_hook_fails_on_findings_and_touches_nothing(repository, tmp_path):
    files, result = run_hook("hardener-check", repository, tmp_path)
    assert files == ["api/Dockerfile", "tools.py"]
    assert result.returncode == 1, result.stdout + result.stderr
    assert "api/Dockerfile:2:1: HD102 " in result.stdout
    assert (repository / "api" / "Dockerfile").read_text() == FIXABLE


def test_fix_hook_writes_the_fixes_and_then_check_passes(repository, tmp_path):
    _, result = run_hook("hardener-fix", repository, tmp_path)
    # Nothing left to report: exit 0, and pre-commit fails the hook because it changed a file.
    assert result.returncode == 0, result.stdout + result.stderr
    assert (repository / "api" / "Dockerfile").read_text() == FIXED
    assert (repository / "tools.py").read_text() == NOT_DOCKER
    changed = subprocess.run(["git", "diff", "--name-only"], cwd=repository, capture_output=True, text=True).stdout
    assert changed.split() == ["api/Dockerfile"]
    _, again = run_hook("hardener-check", repository, tmp_path)
    assert again.returncode == 0, again.stdout


def test_fix_hook_fails_when_findings_are_left(repository, tmp_path):
    (repository / "api" / "Dockerfile").write_text(
        FIXABLE.replace("HEALTHCHECK CMD curl -f http://localhost/ || exit 1\n", "")
    )
    _, result = run_hook("hardener-fix", repository, tmp_path)
    assert result.returncode == 1 and "HD109" in result.stdout  # report only: nothing to fix, still a failure


def test_hooks_fail_on_bad_input_and_pass_modules_that_do_not_start_containers(repository, tmp_path):
    (repository / "api" / "Dockerfile").write_text("FROM debian:12\nNOT_AN_INSTRUCTION x\n")
    for hook_id in HOOKS:
        _, result = run_hook(hook_id, repository, tmp_path)
        assert result.returncode == 2 and "api/Dockerfile:2" in result.stdout, result.stdout
    (repository / "api" / "Dockerfile").unlink()
    _git(repository, "rm", "-q", "--cached", "api/Dockerfile")
    files, result = run_hook("hardener-check", repository, tmp_path)
    assert files == ["tools.py"] and result.returncode == 0, result.stdout  # read, found not to import docker
