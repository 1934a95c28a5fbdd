"""Which files discovery finds: the names real repositories give Dockerfiles and compose files, the
folders GitHub reads as its own, and what git ignores, with every `.gitignore` from the root down and
`.git/info/exclude` (checked against git itself)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hardener.discovery import discover
from hardener.kinds import kind_of_name

DOCKERFILE = "FROM debian:12\n"
COMPOSE = "services:\n  web:\n    image: nginx:1.27\n"
WORKFLOW = "name: ci\non: [push]\njobs:\n  build:\n    runs-on: ubuntu-latest\n    steps:\n      - run: make\n"

# -- names -----------------------------------------------------------------------------------------------
NAMES = {
    "compose": [
        "compose.yaml",
        "docker-compose.yml",
        "compose.prod.yaml",
        "docker-compose.override.yml",
        "compose-dev.yaml",  # Docker Desktop's dev environments
        "docker-compose-dev.yml",
        "docker-compose-prod.yaml",
        "compose_dev.yaml",
        "docker-compose_test.yml",
        "dev.docker-compose.yml",
        "prod.compose.yaml",
        "Docker-Compose-Dev.YML",
        "docker-compose.gitlab-ci.yml",  # mostly an override that GitLab jobs pass to `docker compose -f`
    ],
    "dockerfile": [
        "Dockerfile",
        "dockerfile",
        "Dockerfile.prod",
        "api.Dockerfile",
        "dev.dockerfile",
        "Dockerfile-dev",
        "Dockerfile_dev",
        "Dockerfile-web-ide",
        "Dockerfile-3.12",
        "Dockerfile.go",  # the Go service's Dockerfile, as hundreds of repositories name it
        "Containerfile",
        "Containerfile-prod",
        "Containerfile_prod",
        "api.containerfile",
    ],
    None: [
        "compose.yaml.j2",
        "Dockerfile-dev.j2",
        "docker-compose.yml.dist",
        "docker-compose.yml.example",
        "kompose.yaml",
        "composer.yml",
        "mycompose.yaml",
        "docker-composer.yml",
        "docker-compose.json",
        "docker-compose-schema.json",
        ".gitlab-ci.yml",
        "Dockerfile.md",
        "Dockerfile-notes.txt",
        "README.md",
    ],
}


@pytest.mark.parametrize("kind, name", [(kind, name) for kind, names in NAMES.items() for name in names])
def test_names_real_repositories_use(kind, name):
    assert kind_of_name(name) == kind


# A Dockerfile variant that goes on to another language's extension is that language's file. The kinds
# declare these (`not_patterns`); `hardener.kinds.kind_of_name` has to honour them.
OTHER_FILES = {
    "dockerfile_test.go": None,
    "dockerfile-lint.yml": None,
    "dockerfile_parser.py": "python",
    "dockerfile-utils.ts": None,
    "containerfile-build.sh": None,
    "dockerfile-mode.el": None,
}


@pytest.mark.parametrize("name", list(OTHER_FILES))
def test_a_dockerfile_variant_with_another_languages_extension_is_that_languages_file(name):
    assert kind_of_name(name) == OTHER_FILES[name]


# -- folders GitHub reads as its own -------------------------------------------------------------------
def test_workflows_and_issue_forms_are_not_dockerfiles_or_compose_files(tmp_path, run_cli):
    files = {
        ".github/workflows/dockerfile.yml": WORKFLOW,
        ".github/workflows/docker-compose-test.yml": WORKFLOW,
        ".github/workflows/compose.yaml": WORKFLOW,
        ".github/ISSUE_TEMPLATE/docker-compose-bug.yml": "name: Bug\nbody: []\n",
        ".github/DISCUSSION_TEMPLATE/dockerfile.yml": "body: []\n",
        # Compose files that CI workflows start stay compose files, in .github too.
        ".github/docker-compose.yml": COMPOSE,
        ".github/ci/compose-test.yaml": COMPOSE,
        # Only .github's own folders: one named workflows elsewhere is a folder like any other.
        "deploy/workflows/docker-compose-prod.yml": COMPOSE,
        "Dockerfile-dev": DOCKERFILE,
    }
    for name, text in files.items():
        write(tmp_path / name, text)
    result = run_cli("check", "--format", "json", "--select", "HD102", ".")
    report = json.loads(result.stdout)
    assert report["errors"] == [], result.stdout
    assert sorted(f["path"] for f in report["files"]) == [
        ".github/ci/compose-test.yaml",
        ".github/docker-compose.yml",
        "Dockerfile-dev",
        "deploy/workflows/docker-compose-prod.yml",
    ]
    report = json.loads(run_cli("check", "--format", "json", "--select", "HD102", ".github/").stdout)
    assert sorted(f["path"] for f in report["files"]) == [".github/ci/compose-test.yaml", ".github/docker-compose.yml"]
    # Named, a workflow folder is walked like any other (the user asked for it).
    targets, _ = discover([str(tmp_path / ".github" / "workflows")])
    assert len(targets) == 3


# -- what git ignores: nested .gitignore files, checked against git --------------------------------------
GIT_ENV = {
    **os.environ,
    "GIT_CONFIG_GLOBAL": os.devnull,  # no user's core.excludesFile: hardener reads nothing outside the repository
    "GIT_CONFIG_NOSYSTEM": "1",
}


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def make_tree(top: Path, files: list[str], ignores: dict[str, str], exclude: str = "") -> None:
    """A git repository at top with these (Dockerfile-named) files, .gitignore files and .git/info/exclude."""
    subprocess.run(["git", "init", "-q", str(top)], check=True, env=GIT_ENV)
    for name in files:
        write(top / name, DOCKERFILE)
    for folder, text in ignores.items():
        write(top / folder / ".gitignore", text)
    (top / ".git" / "info" / "exclude").write_text(exclude)


def by_git(top: Path, files: list[str], under: str = "") -> set[str]:
    """The files git does not ignore (nothing is tracked), below `under`."""
    listed = subprocess.run(
        ["git", "-C", str(top), "ls-files", "--others", "--exclude-standard", "-z", "--", under or "."],
        capture_output=True,
        text=True,
        check=True,
        env=GIT_ENV,
    ).stdout
    return {name for name in listed.split("\0") if name in files}


def by_us(top: Path, under: str = "") -> set[str]:
    targets, errors = discover([str(top / under) if under else str(top)])
    assert not [e for e in errors if "found here" not in e.message], errors
    return {Path(t.path).relative_to(top).as_posix() for t in targets}


def ignored_folders(top: Path) -> set[str]:
    listed = subprocess.run(
        ["git", "-C", str(top), "ls-files", "--others", "--ignored", "--exclude-standard", "--directory", "-z"],
        capture_output=True,
        text=True,
        check=True,
        env=GIT_ENV,
    ).stdout
    return {name.rstrip("/") for name in listed.split("\0") if name.endswith("/")}


# Each: files, {folder: .gitignore}, .git/info/exclude, what is found (checked against git as well).
CASES = {
    "a deeper .gitignore re-includes what a shallower one ignores": (
        ["x.dockerfile", "a/x.dockerfile", "a/y.dockerfile"],
        {"": "*.dockerfile\n", "a": "!x.dockerfile\n"},
        "",
        {"a/x.dockerfile"},
    ),
    "a shallower negation does not undo a deeper pattern": (
        ["Dockerfile", "a/Dockerfile", "a/b/Dockerfile"],
        {"": "!Dockerfile\n", "a": "Dockerfile\n"},
        "",
        {"Dockerfile"},
    ),
    "a pattern with a slash is anchored to its own folder": (
        ["b/Dockerfile", "a/b/Dockerfile", "a/c/b/Dockerfile"],
        {"a": "b/Dockerfile\n"},
        "",
        {"b/Dockerfile", "a/c/b/Dockerfile"},
    ),
    "a leading slash anchors to its own folder, not the root": (
        ["Containerfile", "a/Containerfile", "a/b/Containerfile"],
        {"a": "/Containerfile\n"},
        "",
        {"Containerfile", "a/b/Containerfile"},
    ),
    "a pattern without a slash matches at any depth below its own folder only": (
        ["Containerfile", "a/Containerfile", "a/b/Containerfile", "c/Containerfile"],
        {"a": "Containerfile\n"},
        "",
        {"Containerfile", "c/Containerfile"},
    ),
    "** in a nested .gitignore": (
        ["a/x/c/Dockerfile", "a/c/Dockerfile", "c/Dockerfile", "a/x/Dockerfile"],
        {"a": "**/c/\n"},
        "",
        {"c/Dockerfile", "a/x/Dockerfile"},
    ),
    "nothing below an ignored folder comes back, not even by a .gitignore inside it": (
        ["a/Dockerfile", "a/b/Dockerfile", "Dockerfile"],
        {"": "a/\n", "a": "!Dockerfile\n!b/\n"},
        "",
        {"Dockerfile"},
    ),
    "a folder ignored by its contents' pattern, re-included one level down": (
        ["a/b/Dockerfile", "a/b/x.dockerfile", "a/Dockerfile"],
        {"": "a/*\n!a/b/\n", "a/b": "*.dockerfile\n"},
        "",
        {"a/b/Dockerfile"},
    ),
    "a trailing slash matches folders only": (
        ["a/Dockerfile", "a/b/Dockerfile/x.dockerfile"],
        {"a": "Dockerfile/\n"},
        "",
        {"a/Dockerfile"},
    ),
    ".git/info/exclude counts, below every .gitignore": (
        ["x.dockerfile", "keep.dockerfile", "a/keep.dockerfile", "a/Dockerfile"],
        {"": "!keep.dockerfile\n"},
        "*.dockerfile\n/a/Dockerfile\n",
        {"keep.dockerfile", "a/keep.dockerfile"},
    ),
    "a byte-order mark does not hide the first pattern": (
        ["Dockerfile", "a/x.dockerfile"],
        {"a": "\ufeff*.dockerfile\n"},
        "",
        {"Dockerfile"},
    ),
    "CRLF line endings": (
        ["Dockerfile", "a/x.dockerfile", "a/Containerfile"],
        {"a": "*.dockerfile\r\nContainerfile\r\n"},
        "",
        {"Dockerfile"},
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_nested_gitignore_files_mean_what_they_mean_to_git(tmp_path, case):
    files, ignores, exclude, expected = CASES[case]
    make_tree(tmp_path, files, ignores, exclude)
    assert by_git(tmp_path, files) == expected
    assert by_us(tmp_path) == expected


def test_walking_a_subfolder_reads_the_gitignore_files_above_it(tmp_path):
    files = ["a/b/Dockerfile", "a/b/c/Dockerfile", "a/b/x.dockerfile", "a/b/d/Containerfile", "a/Dockerfile"]
    ignores = {"": "/a/b/c/\n*.dockerfile\n", "a": "b/d/\n"}
    make_tree(tmp_path, files, ignores)
    assert by_us(tmp_path, "a/b") == by_git(tmp_path, files, "a/b") == {"a/b/Dockerfile"}


def test_a_repository_inside_the_walk_has_rules_of_its_own(tmp_path):
    # The outer repository's patterns stop at the inner one; git, in the inner one, agrees.
    make_tree(tmp_path, ["Dockerfile", "x.dockerfile"], {"": "x.dockerfile\nContainerfile\n"})
    inner = tmp_path / "vendor" / "tool"
    make_tree(inner, ["Containerfile", "x.dockerfile", "Dockerfile"], {"": "Dockerfile\n"}, "!x.dockerfile\n")
    expected = by_git(inner, ["Containerfile", "x.dockerfile", "Dockerfile"])
    assert expected == {"Containerfile", "x.dockerfile"}
    assert by_us(tmp_path) == {"Dockerfile"} | {f"vendor/tool/{name}" for name in expected}


def test_a_nested_gitignore_that_is_a_link_or_a_fifo_is_not_read(tmp_path):
    make_tree(tmp_path, ["a/Dockerfile", "b/Dockerfile"], {})
    (tmp_path / "patterns").write_text("Dockerfile\n")
    os.symlink(tmp_path / "patterns", tmp_path / "a" / ".gitignore")
    os.mkfifo(tmp_path / "b" / ".gitignore")
    code = "import sys; from hardener.discovery import discover; t, e = discover([sys.argv[1]]); print(len(t), len(e))"
    result = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert result.stdout == "2 0\n", result.stderr


def test_reading_the_gitignore_files_costs_one_open_per_folder_that_has_one(tmp_path):
    # Thirty folders, three with a .gitignore: those three are opened (and .git/info/exclude), no other.
    files = [f"{a}/{b}/Dockerfile" for a in "abcde" for b in "fghijk"[:5]]
    make_tree(tmp_path, files, {"a": "*.dockerfile\n", "b/g": "x\n", "e/k": "Dockerfile\n"})
    code = (
        "import os, sys\n"
        "opened = []\n"
        "sys.addaudithook(lambda event, args: opened.append(str(args[0])) if event == 'open' else None)\n"
        "from hardener.discovery import discover\n"
        "targets, errors = discover([sys.argv[1]])\n"
        "print(len(targets), sorted(os.path.relpath(p, sys.argv[1]) for p in opened "
        "if p.endswith(('.gitignore', 'exclude'))))\n"
    )
    result = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, check=True)
    assert result.stdout == "25 ['.git/info/exclude', 'a/.gitignore', 'b/g/.gitignore', 'e/k/.gitignore']\n"


def test_the_settings_exclude_still_applies_beside_nested_gitignore_files(tmp_path, run_cli):
    files = ["Dockerfile", "generated/Dockerfile", "svc/Dockerfile", "svc/x.dockerfile", "svc/gen/Dockerfile"]
    make_tree(tmp_path, files, {"svc": "*.dockerfile\n"})
    write(tmp_path / ".hardener.toml", 'exclude = ["generated/", "svc/gen/"]\n')
    for folder in (".", "svc"):
        report = json.loads(run_cli("check", "--format", "json", "--select", "HD102", folder).stdout)
        found = sorted(f["path"] for f in report["files"])
        assert found == (["Dockerfile", "svc/Dockerfile"] if folder == "." else ["svc/Dockerfile"])


# Random trees: a few folders, Dockerfile-named files, and .gitignore files at several levels drawn
# from patterns that name them, compared with git.
FOLDERS = ["", "a", "b", "a/a", "a/b", "b/a", "a/b/a"]
FILE_NAMES = ["Dockerfile", "x.dockerfile", "Containerfile"]
PATTERNS = [
    "Dockerfile",
    "/Dockerfile",
    "!Dockerfile",
    "*.dockerfile",
    "!x.dockerfile",
    "Containerfile",
    "!/Containerfile",
    "*file",
    "a",
    "a/",
    "/a",
    "!a",
    "!a/",
    "b/",
    "/b/",
    "!b",
    "*",
    "!*/",
    "!*",
    "a/*",
    "!a/Dockerfile",
    "b/Dockerfile",
    "**/b",
    "a/**/Dockerfile",
    "**/Dockerfile",
    "!**/x.dockerfile",
    "b/**",
    "!b/**",
    "[ab]/",
    "?/x.*",
    "a/b/",
    "# a comment",
    "",
]


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    files=st.sets(st.sampled_from([f"{d}/{n}".lstrip("/") for d in FOLDERS for n in FILE_NAMES]), min_size=1),
    ignores=st.dictionaries(st.sampled_from(FOLDERS), st.lists(st.sampled_from(PATTERNS), max_size=4), max_size=4),
    exclude=st.lists(st.sampled_from(PATTERNS), max_size=2),
    under=st.sampled_from(["", "", "a", "a/b"]),
)
def test_random_trees_agree_with_git(files, ignores, exclude, under):
    with tempfile.TemporaryDirectory() as folder:
        top = Path(folder)
        files = sorted(files)
        make_tree(top, files, {d: "\n".join(lines) + "\n" for d, lines in ignores.items()}, "\n".join(exclude) + "\n")
        assert by_us(top) == by_git(top, files)
        # A folder named on the command line is walked even if ignored; below one git walks into, we agree.
        folders = {"/".join(under.split("/")[: n + 1]) for n in range(under.count("/") + 1)} if under else set()
        if under and (top / under).is_dir() and not folders & ignored_folders(top):
            assert by_us(top, under) == by_git(top, files, under)
