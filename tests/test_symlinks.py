"""Symbolic links: nothing outside the root is read or written, a linked file is fixed once through its
target, a link stays a link, and no write (a fix, --output, the Action's SARIF file) follows one."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from hardener.files import read_source, write_atomic
from hardener.model import InputError

from .fake_github import FakeGitHub
from .test_github_action import checkout, run_action

SPLIT_APT = "FROM debian:12\nRUN apt-get update\nRUN apt-get install -y curl\n"
# An image name is quoted in findings (HD112): if this file were read, the marker would be in the output.
SECRET = "FROM registry.example/TOPSECRET:1\nRUN apt-get update\nRUN apt-get install -y curl\n"
GIT = ["git", "-c", "user.name=dev", "-c", "user.email=dev@example.com"]


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def error_lines(result) -> list[str]:
    return [line for line in result.stdout.splitlines() if line.startswith("error: ")]


def project_with_secret_outside(tmp_path: Path) -> tuple[Path, Path]:
    secret = write(tmp_path / "outside" / "Dockerfile", SECRET)
    project = tmp_path / "project"
    (project / ".git").mkdir(parents=True)  # a repository: its folder is the root
    return project, secret


# -- reading ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("how", ["relative", "absolute"])
def test_a_named_link_out_of_the_repository_is_refused_never_read(tmp_path, run_cli, how):
    project, secret = project_with_secret_outside(tmp_path)
    os.symlink("../outside/Dockerfile" if how == "relative" else secret, project / "Dockerfile")
    result = run_cli("fix", "--unsafe-fixes", "--format", "json", "Dockerfile", cwd=project)
    assert result.returncode == 2
    report = json.loads(result.stdout)
    assert report["files"] == []
    assert [e["message"] for e in report["errors"]] == [
        "is outside the repository (following symbolic links); not read"
    ]
    assert "TOPSECRET" not in result.stdout + result.stderr
    assert secret.read_text() == SECRET and (project / "Dockerfile").is_symlink()


def test_a_named_path_through_a_linked_folder_out_of_the_repository_is_refused(tmp_path, run_cli):
    project, secret = project_with_secret_outside(tmp_path)
    os.symlink(tmp_path / "outside", project / "vendor")
    for named in ("vendor", "vendor/Dockerfile"):
        result = run_cli("check", named, cwd=project)
        assert result.returncode == 2, result.stdout
        refused = f"error: {named}: is outside the repository (following symbolic links); not read"
        assert error_lines(result) == [refused]
        assert "TOPSECRET" not in result.stdout + result.stderr


def test_a_named_link_inside_the_repository_is_followed_even_out_of_the_current_folder(tmp_path, run_cli):
    project = tmp_path / "project"
    (project / ".git").mkdir(parents=True)
    target = write(project / "base" / "Dockerfile", SPLIT_APT)
    (project / "app").mkdir()
    os.symlink("../base/Dockerfile", project / "app" / "Dockerfile")
    result = run_cli("fix", "--select", "HD102", "Dockerfile", cwd=project / "app")
    assert result.returncode == 0, result.stdout
    assert "apt-get update && \\" in target.read_text()
    assert (project / "app" / "Dockerfile").is_symlink(), "the link stays a link"
    assert "../base/Dockerfile:2: HD102 fixed" in result.stdout, "named by the file that was fixed"


def test_outside_a_repository_the_current_folder_is_the_root(tmp_path, run_cli):
    secret = write(tmp_path / "Dockerfile", SECRET)
    (tmp_path / "work").mkdir()
    os.symlink("../Dockerfile", tmp_path / "work" / "Dockerfile")
    result = run_cli("check", "Dockerfile", cwd=tmp_path / "work")
    assert result.returncode == 2 and "TOPSECRET" not in result.stdout + result.stderr
    assert secret.read_text() == SECRET


# -- a link and its target ------------------------------------------------------------------------------
@pytest.mark.parametrize("named", [["."], ["Dockerfile", "real/Dockerfile"], ["real/Dockerfile", "Dockerfile"]])
def test_a_link_and_its_target_are_fixed_once_through_the_target(tmp_path, run_cli, named):
    target = write(tmp_path / "real" / "Dockerfile", SPLIT_APT)
    os.symlink("real/Dockerfile", tmp_path / "Dockerfile")
    result = run_cli("fix", "--select", "HD102,HD104", *named)
    assert result.returncode == 0, result.stdout
    assert "Scanned 1 file." in result.stdout
    assert "real/Dockerfile:2: HD102 fixed" in result.stdout
    assert (tmp_path / "Dockerfile").is_symlink() and os.readlink(tmp_path / "Dockerfile") == "real/Dockerfile"
    assert "apt-get update && \\" in target.read_text()
    assert sorted(p.name for p in (tmp_path / "real").iterdir()) == ["Dockerfile"], "no temporary file is left"


# -- writing ------------------------------------------------------------------------------------------
def test_a_file_swapped_for_a_link_before_the_write_is_not_written_through_it(tmp_path):
    project = tmp_path / "project"
    (project / ".git").mkdir(parents=True)
    path = write(project / "Dockerfile", SPLIT_APT)
    source = read_source(str(path))
    # The same bytes outside the tree: comparing content alone would not notice the swap.
    victim = write(tmp_path / "victim", SPLIT_APT)
    path.unlink()
    os.symlink(victim, path)
    with pytest.raises(InputError) as caught:
        write_atomic(source, "FROM debian:12\n")
    assert str(caught.value) == f"{path}: file became a symbolic link; not written"
    assert victim.read_text() == SPLIT_APT and path.is_symlink()
    assert sorted(p.name for p in project.iterdir()) == [".git", "Dockerfile"]


def test_a_folder_swapped_for_a_link_out_of_the_tree_is_not_written_through(tmp_path):
    project = tmp_path / "project"
    (project / ".git").mkdir(parents=True)
    path = write(project / "app" / "Dockerfile", SPLIT_APT)
    source = read_source(str(path))
    victim = write(tmp_path / "elsewhere" / "Dockerfile", SPLIT_APT)
    path.unlink()
    (project / "app").rmdir()
    os.symlink(tmp_path / "elsewhere", project / "app")
    with pytest.raises(InputError) as caught:
        write_atomic(source, "FROM debian:12\n")
    assert "is outside the repository" in str(caught.value)
    assert victim.read_text() == SPLIT_APT
    assert sorted(p.name for p in (tmp_path / "elsewhere").iterdir()) == ["Dockerfile"]


def test_output_file_that_is_a_link_is_refused_before_anything_is_fixed(tmp_path, run_cli):
    victim = write(tmp_path / "victim.txt", "keep me\n")
    project = tmp_path / "project"
    dockerfile = write(project / "Dockerfile", SPLIT_APT)
    os.symlink(victim, project / "report.txt")
    result = run_cli("fix", "-o", "report.txt", ".", cwd=project)
    assert result.returncode == 2
    assert result.stderr == "hardener: error: cannot write report.txt: it is a symbolic link; not written\n"
    assert victim.read_text() == "keep me\n" and (project / "report.txt").is_symlink()
    assert dockerfile.read_text() == SPLIT_APT, "nothing was fixed"


def test_output_file_is_replaced_in_one_step_and_keeps_its_mode(tmp_path, run_cli):
    write(tmp_path / "Dockerfile", SPLIT_APT)
    report = write(tmp_path / "report.json", "old\n")
    os.chmod(report, 0o640)
    result = run_cli("check", "--format", "json", "-o", "report.json", ".")
    assert result.returncode == 1 and result.stdout == ""
    assert json.loads(report.read_text())["command"] == "check"
    assert os.stat(report).st_mode & 0o777 == 0o640
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".cache")) == [
        "Dockerfile",
        "report.json",
    ]


# -- the Action -------------------------------------------------------------------------------------------
@pytest.fixture
def github(tmp_path):
    fake = FakeGitHub(tmp_path, files={"app/Dockerfile": SPLIT_APT, "README.md": "# shop\n"})
    yield fake
    fake.stop()


def push_symlink(fake: FakeGitHub, tmp_path: Path, branch: str, link: str, target: str) -> None:
    """Commit a symbolic link (git mode 120000) to `branch`, as a contributor pushing would."""
    clone = tmp_path / f"push-{branch}"
    if not clone.exists():
        subprocess.run(["git", "clone", "-q", str(fake.git_dir), str(clone)], check=True)
    subprocess.run(["git", "-C", str(clone), "checkout", "-q", "-B", branch, "origin/main"], check=True)
    (clone / link).parent.mkdir(parents=True, exist_ok=True)
    os.symlink(target, clone / link)
    subprocess.run([*GIT, "-C", str(clone), "add", link], check=True)
    subprocess.run([*GIT, "-C", str(clone), "commit", "-q", "-m", f"link {link}"], check=True)
    subprocess.run(["git", "-C", str(clone), "push", "-q", "-f", "origin", branch], check=True)


def tree_entry(fake: FakeGitHub, branch: str, path: str) -> tuple[str, str]:
    line = subprocess.run(
        ["git", "--git-dir", str(fake.git_dir), "ls-tree", branch, path], capture_output=True, text=True, check=True
    ).stdout
    mode, _kind, rest = line.split(" ", 2)
    return mode, rest.split("\t")[0]


def test_pull_request_keeps_a_link_a_link_and_commits_the_fix_to_its_target(github, tmp_path, monkeypatch):
    push_symlink(github, tmp_path, "main", "Dockerfile", "app/Dockerfile")
    link_before = tree_entry(github, "main", "Dockerfile")
    assert link_before[0] == "120000"
    work = checkout(github, tmp_path)
    code, out, outputs, _ = run_action(github, work, tmp_path, monkeypatch)
    assert code == 0, out
    assert outputs["changed-files"].split() == ["app/Dockerfile"]
    assert github.changed_files("main", "hardener/harden") == ["app/Dockerfile"]
    assert tree_entry(github, "hardener/harden", "Dockerfile") == link_before, "the link is untouched"
    assert "apt-get update && \\" in github.read("hardener/harden", "app/Dockerfile")


def test_check_mode_never_reads_a_link_out_of_the_workspace(github, tmp_path, monkeypatch):
    secret = write(tmp_path / "secret" / "Dockerfile", SECRET)
    push_symlink(github, tmp_path, "main", "Dockerfile", str(secret))
    work = checkout(github, tmp_path)
    code, out, _, summary = run_action(github, work, tmp_path, monkeypatch, mode="check", paths="Dockerfile")
    assert code == 2
    assert "TOPSECRET" not in out + summary
    assert "::error file=Dockerfile::is outside the repository (following symbolic links); not read" in out


def test_review_mode_skips_a_changed_link_out_of_the_workspace(github, tmp_path, monkeypatch):
    secret = write(tmp_path / "secret" / "Dockerfile", SECRET)
    push_symlink(github, tmp_path, "feature", "Dockerfile", str(secret))
    number = github.open_pull_from("feature")
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"pull_request": {"number": number}}))
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(event))
    work = checkout(github, tmp_path, "feature")
    code, out, _, summary = run_action(github, work, tmp_path, monkeypatch, mode="review")
    assert code == 0, out
    assert "TOPSECRET" not in out + summary + json.dumps(github.reviews) + json.dumps(github.review_comments)
    assert "::notice::hardener: skipped Dockerfile: it leads outside the repository through a symbolic link" in out
    assert not github.review_comments


def test_sarif_file_planted_as_a_link_is_not_written_through(github, tmp_path, monkeypatch):
    victim = write(tmp_path / "victim.txt", "keep me\n")
    push_symlink(github, tmp_path, "main", "hardener.sarif", str(victim))
    work = checkout(github, tmp_path)
    code, out, _, _ = run_action(github, work, tmp_path, monkeypatch, mode="check", sarif_file="hardener.sarif")
    assert code == 2
    assert "::error::hardener: hardener.sarif: it is a symbolic link; not written" in out
    assert victim.read_text() == "keep me\n" and (work / "hardener.sarif").is_symlink()


def test_sarif_file_through_a_folder_link_out_of_the_workspace_is_refused(github, tmp_path, monkeypatch):
    (tmp_path / "elsewhere").mkdir()
    push_symlink(github, tmp_path, "main", "reports", str(tmp_path / "elsewhere"))
    work = checkout(github, tmp_path)
    code, out, _, _ = run_action(github, work, tmp_path, monkeypatch, mode="check", sarif_file="reports/h.sarif")
    assert code == 2
    refused = "reports/h.sarif: is outside the repository (following symbolic links); not written"
    assert f"::error::hardener: {refused}" in out
    assert list((tmp_path / "elsewhere").iterdir()) == []


def test_sarif_file_inside_the_workspace_is_written(github, tmp_path, monkeypatch):
    work = checkout(github, tmp_path)
    (work / "reports").mkdir()
    code, out, _, _ = run_action(github, work, tmp_path, monkeypatch, mode="check", sarif_file="reports/h.sarif")
    assert code == 0, out
    assert json.loads((work / "reports" / "h.sarif").read_text())["version"] == "2.1.0"


def test_output_through_a_folder_link_out_of_the_repository_is_refused(tmp_path, run_cli):
    outside = tmp_path / "outside"
    victim = write(outside / "victim", "precious\n")
    project = tmp_path / "project"
    write(project / "Dockerfile", SPLIT_APT)
    (project / ".git").mkdir()
    os.symlink(outside, project / "reports")  # planted in the checkout
    result = run_cli("check", "--format", "sarif", "-o", "reports/victim", ".", cwd=project)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.startswith("hardener: error: cannot write reports/victim: ")
    assert victim.read_text() == "precious\n"
    # A place the user names outside the repository is theirs to choose.
    chosen = tmp_path / "elsewhere" / "report.sarif"
    chosen.parent.mkdir()
    assert run_cli("check", "--format", "sarif", "-o", chosen, ".", cwd=project).returncode == 1
    assert chosen.read_text().startswith("{")
