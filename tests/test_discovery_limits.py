"""Walking folders from a hostile checkout: any depth without exhausting the stack, and ignore patterns
that match in time linear in the name, with git's own meaning (checked against git itself)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hardener.discovery import MAX_DEPTH, IgnoreRules, discover

DOCKERFILE = "FROM debian:12\n"


def nest(top: Path, depth: int) -> Path:
    """top/a/a/.../a, `depth` folders deep, made one level at a time."""
    folder = top
    for _ in range(depth):
        folder = folder / "a"
        folder.mkdir(exist_ok=True)
    return folder


def unnest(top: Path, depth: int) -> None:
    # Deepest first: removing a tree this deep recursively could itself exhaust the stack.
    for level in range(depth, 0, -1):
        folder = top.joinpath(*["a"] * level)
        for entry in folder.iterdir():
            if not entry.is_dir():
                entry.unlink()
        folder.rmdir()


def test_1500_nested_folders_are_walked_without_a_traceback(tmp_path, run_cli):
    (tmp_path / "Dockerfile").write_text(DOCKERFILE)
    (nest(tmp_path, 40) / "Dockerfile").write_text(DOCKERFILE)
    deepest = nest(tmp_path, 1500)
    (deepest / "Dockerfile").write_text(DOCKERFILE)
    try:
        result = run_cli("check", "--format", "json", "--select", "HD102", ".")
        assert "Traceback" not in result.stderr and "RecursionError" not in result.stderr
        assert result.returncode == 2
        report = json.loads(result.stdout)
        assert [f["path"] for f in report["files"]] == ["Dockerfile", "/".join(["a"] * 40) + "/Dockerfile"]
        [error] = report["errors"]
        assert error["path"] == "/".join(["a"] * MAX_DEPTH)
        assert error["message"] == f"folders nested more than {MAX_DEPTH} deep; not scanned further"
    finally:
        unnest(tmp_path, 1500)


def test_a_tree_at_the_depth_limit_is_walked_to_the_bottom(tmp_path):
    (nest(tmp_path, MAX_DEPTH) / "Dockerfile").write_text(DOCKERFILE)
    targets, errors = discover([str(tmp_path)])
    assert errors == [] and len(targets) == 1


# Each of these took minutes to hours on a 34-character name with a backtracking regular expression.
HOSTILE_PATTERNS = [
    "*" * 20 + "x",
    "*a" * 12 + "x",
    "a**a**a**a**a**a**a**a**b",
    "**/a*a*a*a*a*a*a*a*a*a*b/**",
    "/".join(["**", "a*a*a*"] * 8) + "/b",
    "[a]*[a]*[a]*[a]*[a]*[a]*[a]*[a]*[a]*[a]*c",
]


def test_gitignore_patterns_cannot_hang_the_walk(tmp_path):
    (tmp_path / ".gitignore").write_text("\n".join(HOSTILE_PATTERNS) + "\n")
    folder = tmp_path / ("a" * 34)
    folder.mkdir()
    (folder / "Dockerfile").write_text(DOCKERFILE)
    (folder / ("a" * 34)).mkdir()
    (folder / ("a" * 34) / "Dockerfile").write_text(DOCKERFILE)
    env = {**os.environ, "HARDENER_OFFLINE": "1", "HARDENER_CACHE_DIR": str(tmp_path / ".cache")}
    # The timeout only turns a hang into a failure; how fast the walk is, is measured in benchmarks/.
    result = subprocess.run(
        [sys.executable, "-m", "hardener", "check", "--select", "HD102", "."],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Scanned 2 files" in result.stdout


# -- the meaning of patterns, checked against git --------------------------------------------------------
GITIGNORE = "\n".join(
    [
        "# comments and blank lines are skipped",
        "",
        "*.log",
        "!keep.log",
        "build/",
        "/top.txt",
        "docs/*.md",
        "**/testdata/",
        "a/**/z.txt",
        "deep/**",
        "!deep/kept/",
        "\\#hash.txt",
        "trailing\\ ",  # an escaped trailing space is kept
        "space.txt   ",  # unescaped ones are not
        "[abc]x.txt",
        "[!a-c]y.txt",
        "?q.txt",
        "lit\\*star.txt",
        "one**two.txt",
        "nested/**/b*/c?.txt",
    ]
)

FILES = [
    "x.log",
    "sub/x.log",
    "keep.log",
    "sub/keep.log",
    "build/Dockerfile",
    "sub/build/Dockerfile",
    "notbuild/Dockerfile",
    "top.txt",
    "sub/top.txt",
    "docs/a.md",
    "docs/sub/a.md",
    "sub/docs/a.md",
    "testdata/f",
    "x/y/testdata/f",
    "a/z.txt",
    "a/b/c/z.txt",
    "b/a/z.txt",
    "deep/f",
    "deep/kept/f",
    "deep/other/f",
    "#hash.txt",
    "trailing ",
    "space.txt",
    "ax.txt",
    "dx.txt",
    "ay.txt",
    "dy.txt",
    "zq.txt",
    "zzq.txt",
    "lit*star.txt",
    "litXstar.txt",
    "onetwo.txt",
    "one-and-two.txt",
    "nested/b/c1.txt",
    "nested/x/y/bee/c2.txt",
    "nested/x/c3.txt",
    "plain.txt",
]


def test_patterns_mean_what_they_mean_to_git(tmp_path):
    for name in FILES:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x\n")
    (tmp_path / ".gitignore").write_text(GITIGNORE)
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    listed = subprocess.run(
        ["git", "-C", str(tmp_path), "ls-files", "--others", "--ignored", "--exclude-standard", "-z"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    by_git = {name for name in listed.split("\0") if name}
    rules = IgnoreRules(GITIGNORE.splitlines())
    by_us = {name for name in FILES if rules.matches(name, False)}
    assert by_us == by_git
    assert {"x.log", "build/Dockerfile", "deep/other/f"} <= by_us and "keep.log" not in by_us


@pytest.mark.parametrize("pattern", HOSTILE_PATTERNS)
def test_hostile_patterns_agree_with_git(tmp_path, pattern):
    names = ["a" * 34, "a" * 33 + "x", "a" * 8 + "b", "a" * 10 + "c", "a" * 20 + "/" + "a" * 5 + "/b"]
    for name in names:
        path = tmp_path / name / "f" if not name.endswith("/b") else tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x\n")
    (tmp_path / ".gitignore").write_text(pattern + "\n")
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    listed = subprocess.run(
        ["git", "-C", str(tmp_path), "ls-files", "--others", "--ignored", "--exclude-standard", "-z"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    files = [p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file() and ".git" not in p.parts]
    rules = IgnoreRules([pattern])
    assert {f for f in files if rules.matches(f, False)} == {n for n in listed.split("\0") if n}


def test_a_gitignore_that_is_a_link_or_a_fifo_is_not_read(tmp_path):
    # Like git, the .gitignore of a working tree is not followed through a link; a FIFO would block forever.
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "patterns").write_text("ignored/\n")
    project = tmp_path / "project"
    (project / "ignored").mkdir(parents=True)
    (project / "ignored" / "Dockerfile").write_text(DOCKERFILE)
    os.symlink(outside / "patterns", project / ".gitignore")
    targets, errors = discover([str(project)])
    assert [t.path for t in targets] == [str(project / "ignored" / "Dockerfile")] and not errors
    (project / ".gitignore").unlink()
    os.mkfifo(project / ".gitignore")
    # In a process of its own, so that a regression fails (after the timeout) instead of hanging the tests.
    code = "from hardener.discovery import discover; t, e = discover(['.']); print(len(t), len(e))"
    result = subprocess.run([sys.executable, "-c", code], cwd=project, capture_output=True, text=True, timeout=120)
    assert result.stdout == "1 0\n", result.stderr
