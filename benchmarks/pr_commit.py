"""Benchmark the pull-request commit: one blob write per file, against contents inline in the tree.

    python benchmarks/pr_commit.py [--files 30 1000] [--latency-ms 0]

Runs against the fake GitHub of the test suite (tests/fake_github.py: real HTTP, PyGithub, a real
git repository behind it), with an optional delay added to every request. For each size it builds
the same commit of N fixed Dockerfiles on the base branch two ways, each on a fresh repository:

- per-file blobs (as hardener did before): POST /git/blobs for each file, then one tree naming them;
- inline (now): the tree requests carry the contents, in batches (see pr.TREE_BATCH_ENTRIES);

then the whole run of sync_pull_request (reads, commit, branch, pull request) the new way. It
prints a Markdown table: API requests, writes, seconds measured, and the time at the pace hardener
keeps on GitHub (one write a second, as GitHub asks of content-creating requests, and 0.25 s
between reads), which is what a workflow waits in practice.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hardener.github import pr  # noqa: E402
from hardener.github.action import make_github  # noqa: E402
from tests.fake_github import FakeGitHub  # noqa: E402

FIXED = "FROM debian:12\nRUN apt-get update && \\\n    apt-get install -y curl && \\\n    rm -rf /var/lib/apt/lists/*\n"
WRITE_PACE, READ_PACE = 1.0, 0.25  # seconds hardener waits between writes and reads on GitHub (action.make_github)


def _fake(root: Path, files: int, latency: float) -> FakeGitHub:
    fake = FakeGitHub(root, files={f"svc{n}/Dockerfile": "FROM debian:12\n" for n in range(files)})
    if latency:
        dispatch = fake.dispatch

        def slow(*args):
            time.sleep(latency)
            return dispatch(*args)

        fake.dispatch = slow
    return fake


def _changes(files: int) -> dict[str, tuple[str, str]]:
    return {f"svc{n}/Dockerfile": (FIXED + f"# {n}\n", "100644") for n in range(files)}


def per_file_blobs(repo, changes) -> None:
    from github import InputGitTreeElement

    base = repo.get_git_commit(repo.get_git_ref("heads/main").object.sha)
    elements = []
    for path, (content, mode) in sorted(changes.items()):
        blob = repo.create_git_blob(content, "utf-8")
        elements.append(InputGitTreeElement(path, mode, "blob", sha=blob.sha))
    tree = repo.create_git_tree(elements, base.tree)
    repo.create_git_commit("Harden container definitions", tree, [base])


def inline(repo, changes) -> None:
    base = repo.get_git_commit(repo.get_git_ref("heads/main").object.sha)
    pr._Sync(repo, "hardener/harden", "main", ()).commit(base, changes, "Harden container definitions")


def whole_run(repo, changes) -> None:
    pr.sync_pull_request(repo, changes, body="body", title="Harden", branch="hardener/harden", base="main")


def measure(way, files: int, latency: float) -> tuple[int, int, float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        fake = _fake(Path(tmp), files, latency)
        try:
            repo = make_github("token", fake.url).get_repo(f"{fake.owner}/{fake.name}")
            changes = _changes(files)
            fake.calls.clear()
            start = time.perf_counter()
            way(repo, changes)
            seconds = time.perf_counter() - start
            writes = len(fake.writes)
            reads = len(fake.calls) - writes
            assert not fake.errors, fake.errors
            return len(fake.calls), writes, seconds, writes * WRITE_PACE + reads * READ_PACE
        finally:
            fake.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, nargs="+", default=[30, 1000])
    parser.add_argument("--latency-ms", type=float, default=0.0)
    args = parser.parse_args()
    import os

    os.environ.setdefault("HARDENER_GITHUB_THROTTLE", "0")  # measured without the pace; the pace is computed
    os.environ.setdefault("HARDENER_GITHUB_RETRY_WAIT", "0")
    print(f"Fake GitHub on loopback, {args.latency_ms:g} ms added per request.\n")
    print("| Files | Way | API requests | Writes | Seconds (fake) | Seconds at GitHub's pace |")
    print("|---:|---|---:|---:|---:|---:|")
    ways = (
        ("commit: one blob per file", per_file_blobs),
        ("commit: contents inline", inline),
        ("whole run, contents inline", whole_run),
    )
    for files in args.files:
        for name, way in ways:
            calls, writes, seconds, paced = measure(way, files, args.latency_ms / 1000)
            print(f"| {files:,} | {name} | {calls:,} | {writes:,} | {seconds:.2f} | {paced:,.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
