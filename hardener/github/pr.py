"""Open, update or close the one pull request that carries hardener's fixes.

Commits go through the Git Data API (blobs, a tree on the base's tree, a
commit with no author), so GitHub marks them verified when the Actions or App
token makes them. The branch ref moves last, after everything else exists. The
base branch is never written to, and a branch hardener did not make is never
overwritten.
"""

from __future__ import annotations

from dataclasses import dataclass

TRAILER = "Hardener-Bot: pull-request v1"


class BotError(Exception):
    """A failure with the fix the user should make, safe to print."""


@dataclass
class Outcome:
    operation: str  # created, updated, unchanged, closed, none
    number: int | None = None
    url: str | None = None
    head_sha: str | None = None
    left_out: tuple[str, ...] = ()  # changed files the API cannot name (see committable)


def committable(path: str) -> bool:
    """Whether the Git Data API can name this path.

    Its requests are JSON, whose strings are Unicode: a file name whose bytes are not UTF-8 (held by
    Python as surrogate escapes) has no spelling there, and any other spelling would commit a new file
    under a different name. Such a file is left out of the pull request, never renamed.
    """
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def split_committable(changes: dict[str, tuple[str, str]]) -> tuple[dict[str, tuple[str, str]], tuple[str, ...]]:
    """The changes a commit through the API can carry, and the paths left out (sorted)."""
    kept = {path: change for path, change in changes.items() if committable(path)}
    return kept, tuple(sorted(path for path in changes if path not in kept))


def sync_pull_request(
    repo,
    changes: dict[str, tuple[str, str]],
    *,
    body: str,
    title: str,
    branch: str,
    base: str,
    labels=(),
    commit_message: str = "Harden container definitions",
) -> Outcome:
    """Make `branch` hold base + `changes` ({path: (content, git mode)}), and one open PR show it.

    Paths the API cannot name (see `committable`) are left out and listed in the outcome.
    """
    from github import GithubException, InputGitTreeElement, UnknownObjectException

    changes, left_out = split_committable(changes)

    owner = repo.owner.login
    if branch == base:
        # The base branch's head may well carry hardener's trailer (after a squash merge of its pull
        # request): without this, the bot would commit straight onto the branch it targets.
        raise BotError(f"the `branch` input names the base branch {base!r}; choose a branch of hardener's own")
    try:
        base_sha = repo.get_git_ref(f"heads/{base}").object.sha
    except UnknownObjectException:
        raise BotError(f"the base branch {base!r} does not exist") from None
    try:
        head_ref = repo.get_git_ref(f"heads/{branch}")
    except UnknownObjectException:
        head_ref = None
    head_commit = repo.get_git_commit(head_ref.object.sha) if head_ref else None
    if head_commit is not None and TRAILER not in head_commit.message:
        raise BotError(
            f"the branch {branch!r} exists and was not made by hardener; it is left alone. "
            "Delete it, or choose another branch with the `branch` input."
        )
    existing = _open_pull(repo, owner, branch, base)

    if not changes:
        if existing is None:
            return Outcome("none", left_out=left_out)
        note = "hardener has nothing left to fix here, so this pull request is closed."
        if left_out:
            note += (
                " Files whose names are not UTF-8 cannot be committed through GitHub's API: "
                "run `hardener fix` on them locally."
            )
        existing.create_issue_comment(note)
        existing.edit(state="closed")
        if head_ref is not None:
            head_ref.delete()
        return Outcome("closed", existing.number, existing.html_url, left_out=left_out)

    base_commit = repo.get_git_commit(base_sha)
    same = head_commit is not None and _holds(repo, head_commit, base_commit, changes)
    if same:
        head_sha = head_commit.sha  # the branch already is base + these changes: write nothing
    else:
        elements = []
        for path, (content, mode) in sorted(changes.items()):
            blob = repo.create_git_blob(content, "utf-8")
            elements.append(InputGitTreeElement(path, mode, "blob", sha=blob.sha))
        tree = repo.create_git_tree(elements, base_commit.tree)
        # No author or committer: GitHub signs commits its Actions/App token makes, so they show as verified.
        commit = repo.create_git_commit(f"{commit_message}\n\n{TRAILER}", tree, [base_commit])
        head_sha = commit.sha
        if head_ref is None:
            repo.create_git_ref(f"refs/heads/{branch}", head_sha)
        else:
            head_ref.edit(head_sha, force=True)

    if existing is not None:
        if existing.title != title or (existing.body or "") != body:
            existing.edit(title=title, body=body)
            return Outcome("updated", existing.number, existing.html_url, head_sha, left_out)
        return Outcome("updated" if not same else "unchanged", existing.number, existing.html_url, head_sha, left_out)
    try:
        pull = repo.create_pull(base=base, head=branch, title=title, body=body)
    except GithubException as exc:
        if exc.status == 422 and "already exists" in str(exc.data):
            pull = _open_pull(repo, owner, branch, base)  # made meanwhile by a parallel run
            if pull is None:
                raise
            pull.edit(title=title, body=body)
        else:
            raise
    if labels:
        pull.add_to_labels(*labels)
    return Outcome("created", pull.number, pull.html_url, head_sha, left_out)


def _holds(repo, head_commit, base_commit, changes) -> bool:
    """The head commit sits on the base and its tree is the base's with exactly these changes."""
    if [p.sha for p in head_commit.parents] != [base_commit.sha]:
        return False
    expected = _tree_entries(repo, base_commit.tree.sha)
    for path, (content, mode) in changes.items():
        expected[path] = (mode, git_blob_sha(content))
    return _tree_entries(repo, head_commit.tree.sha) == expected


def _tree_entries(repo, sha: str) -> dict[str, tuple[str, str]]:
    tree = repo.get_git_tree(sha, recursive=True)
    return {e.path: (e.mode, e.sha) for e in tree.tree if e.type == "blob"}


def git_blob_sha(content: str) -> str:
    import hashlib

    data = content.encode("utf-8")
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _open_pull(repo, owner: str, branch: str, base: str):
    for pull in repo.get_pulls(state="open", head=f"{owner}:{branch}", base=base):
        return pull
    return None


def explain(exc) -> str:
    """A GitHub error as a sentence that says what to change."""
    status = getattr(exc, "status", None)
    data = getattr(exc, "data", None)
    message = (data or {}).get("message", "") if isinstance(data, dict) else str(data or "")
    if status == 403 and "not permitted to create or approve pull requests" in message:
        return (
            "GitHub Actions may not create pull requests in this repository. Turn on Settings > Actions > General > "
            "'Allow GitHub Actions to create and approve pull requests' (for an organisation, also in its settings), "
            "or give the action an App token."
        )
    if status == 403 and ("Resource not accessible" in message or "permission" in message.lower()):
        return (
            "the token lacks permissions: give the job `permissions: contents: write` and `pull-requests: write` "
            "(a pull request from a fork only ever gets a read-only token)."
        )
    if status in (403, 429) and "rate limit" in message.lower():
        return "GitHub's rate limit was hit and did not clear in time; run again later."
    if status == 401:
        return "the token was refused (401): check the `token` input."
    return f"GitHub answered HTTP {status}: {message or exc}"


def unreachable(exc) -> str:
    """A transport failure (retries exhausted, connection reset) as one safe sentence."""
    kind = type(exc).__name__
    if any(code in str(exc) for code in ("403", "429")):
        return "GitHub's rate limit did not clear in time (retried as GitHub asked); nothing was half-made, run again later."
    return f"could not reach GitHub ({kind}) after retrying; nothing was half-made, run again later."
