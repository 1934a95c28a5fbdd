"""Open, update or close the one pull request that carries hardener's fixes.

Commits go through the Git Data API (a tree with the files' contents inline on
the base's tree, a commit with no author), so GitHub marks them verified when
the Actions or App token makes them. The branch ref moves last, after
everything else exists. The base branch is never written to; a branch hardener
did not make is never overwritten; a file the base branch changed since the
checkout is merged, never written over; and a run that changes nothing writes
nothing.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field

from hardener.github.body import MARKER as MARKER_TEXT  # the description's first line

TRAILER = "Hardener-Bot: pull-request v1"


class BotError(Exception):
    """A failure with the fix the user should make, safe to print."""


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


# Hidden markers: the bot's own comments, so each is posted once, and what its pull request proposed.
DECLINED_MARKER = "<!-- hardener:declined -->"
STOPPED_MARKER = "<!-- hardener:stopped -->"
CLOSED_MARKER = "<!-- hardener:nothing-left -->"  # the bot closed it itself: not a maintainer's no
CLOSED_NOTE = "hardener has nothing left to fix here, so this pull request is closed."
FIXES_MARKER = re.compile(r"<!-- hardener:fixes v1 ((?:[0-9a-f]{8} ?)*|all=[0-9a-f]{16}) -->")
MARKER_PAIRS_MAX = 200  # past this, one digest of all of them keeps the marker small

# A tree request carries file contents inline. GitHub caps a request body at about 100 MB and
# documents no entry limit, but large requests are slow to build and to retry: 500 entries or
# 5 MB a request keeps each one well inside the limits and a thousand fixed files in two or three calls.
TREE_BATCH_ENTRIES = 500
TREE_BATCH_BYTES = 5_000_000
UPDATE_MERGES_MAX = 20  # "Update branch" merges walked through before the bot's own commit


@dataclass
class Outcome:
    operation: str  # created, updated, unchanged, closed, none
    number: int | None = None
    url: str | None = None
    head_sha: str | None = None
    left_out: tuple[str, ...] = ()  # changed files the API cannot name (see committable)
    held_back: dict[str, str] = field(default_factory=dict)  # path: why its fix is not in this commit
    notes: list[str] = field(default_factory=list)  # what the run should say besides the operation


def fixes_marker(pairs) -> str:
    """A hidden line naming the fixes a pull request proposed: (path, rule) pairs, hashed."""
    hashed = sorted({_pair_hash(path, rule) for path, rule in pairs})
    if len(hashed) > MARKER_PAIRS_MAX:
        return f"<!-- hardener:fixes v1 all={hashlib.sha256(' '.join(hashed).encode()).hexdigest()[:16]} -->"
    return f"<!-- hardener:fixes v1 {' '.join(hashed)} -->"


def _pair_hash(path: str, rule: str) -> str:
    return hashlib.sha256(f"{path}\0{rule}".encode("utf-8", "surrogateescape")).hexdigest()[:8]


def proposes_nothing_new(recorded_body: str, pairs) -> bool:
    """Whether these fixes are among those a pull request's body recorded (a body without the marker: yes)."""
    recorded = FIXES_MARKER.search(recorded_body or "")
    if recorded is None:
        return True
    made = FIXES_MARKER.search(fixes_marker(pairs))
    assert made is not None, "fixes_marker writes the marker it is searched for"
    now = made.group(1)
    if recorded.group(1).startswith("all=") or now.startswith("all="):
        return recorded.group(1) == now
    return set(now.split()) <= set(recorded.group(1).split())


def sync_pull_request(
    repo,
    changes: dict[str, tuple[str, str]],
    *,
    body,
    title: str,
    branch: str,
    base: str,
    labels=(),
    commit_message: str = "Harden container definitions",
    draft: bool = False,
    reviewers=(),
    assignees=(),
    originals: dict[str, str] | None = None,
    verify=None,
    fixes=None,
    checkout: str | None = None,
) -> Outcome:
    """Make `branch` hold base + `changes` ({path: (content, git mode)}), and one open PR show it.

    `originals` holds the text each changed file had when hardener read it (with its byte-order
    mark): a file the base branch changed since is merged line by line (see merge.py), checked with
    `verify(path, base text, merged text)` (a problem, or None), and left out when that fails. `body` is the
    description, or a function of the files left out that returns it. `fixes` are the (path, rule)
    pairs the changes make; `checkout` the base commit the workflow read, when it checked out `base`.
    Paths the API cannot name (see `committable`) are left out and listed in the outcome.
    """
    changes, left_out = split_committable(changes)
    if branch == base:
        # The base branch's head may well carry hardener's trailer (after a squash merge of its pull
        # request): without this, the bot would commit straight onto the branch it targets.
        raise BotError(f"the `branch` input names the base branch {base!r}; choose a branch of hardener's own")
    return _Sync(repo, branch, base, left_out).run(
        changes,
        body=body,
        title=title,
        labels=tuple(labels),
        commit_message=commit_message,
        draft=draft,
        reviewers=tuple(reviewers),
        assignees=tuple(assignees),
        originals=originals,
        verify=verify,
        fixes=fixes,
        checkout=checkout,
    )


class _Sync:
    """One run's reads and writes against one repository's bot branch and its pull request."""

    def __init__(self, repo, branch: str, base: str, left_out: tuple[str, ...]):
        self.repo, self.branch, self.base, self.left_out = repo, branch, base, left_out
        self.owner = repo.owner.login
        self.notes: list[str] = []

    def outcome(self, operation: str, pull=None, head_sha=None, held_back=None) -> Outcome:
        return Outcome(
            operation,
            pull.number if pull is not None else None,
            pull.html_url if pull is not None else None,
            head_sha,
            self.left_out,
            dict(held_back or {}),
            self.notes,
        )

    def run(
        self,
        changes,
        *,
        body,
        title,
        labels,
        commit_message,
        draft,
        reviewers,
        assignees,
        originals,
        verify,
        fixes,
        checkout,
    ) -> Outcome:
        from github import UnknownObjectException

        repo = self.repo
        base_sha = self.base_tip(checkout)
        try:
            head_ref = repo.get_git_ref(f"heads/{self.branch}")
        except UnknownObjectException:
            head_ref = None
        bot_commit, foreign = self.bot_commit(head_ref.object.sha, base_sha) if head_ref else (None, None)
        pulls = [p for p in repo.get_pulls(state="all", head=f"{self.owner}:{self.branch}", base=self.base)]
        pulls.sort(key=lambda p: p.number, reverse=True)
        ours = [p for p in pulls if MARKER_TEXT in (p.body or "") or FIXES_MARKER.search(p.body or "")]
        open_pull = next((p for p in ours if p.state == "open"), None)
        latest = ours[0] if ours else None

        if foreign is not None:
            if open_pull is None and latest is not None:
                # The bot's last pull request is closed: nothing to update, nothing to say there.
                self.notes.append(
                    f"someone else pushed to the branch {self.branch} of closed pull request #{latest.number}; "
                    "it is left alone"
                )
                return self.outcome("none", latest, head_ref.object.sha)
            if open_pull is None:
                raise BotError(
                    f"the branch {self.branch!r} exists and was not made by hardener; it is left alone. "
                    "Delete it, or choose another branch with the `branch` input."
                )
            return self.stop_updating(open_pull, foreign, head_ref.object.sha)

        pairs = sorted(set(fixes) if fixes is not None else {(path, "") for path in changes})
        if not changes:
            return self.nothing_to_fix(open_pull, latest, head_ref, bot_commit)
        if open_pull is None and latest is not None and self.declined(latest, title, pairs):
            return self.outcome("none", latest, head_ref.object.sha if head_ref else None)

        base_commit = repo.get_git_commit(base_sha)
        base_entries = _tree_entries(repo, base_commit.tree.sha)
        final, held_back = self.contents_on(base_entries, changes, originals, verify)
        if not final:
            return self.outcome("none", open_pull, head_ref.object.sha if head_ref else None, held_back)

        written = False
        if (
            bot_commit is not None
            and bot_commit.sha == head_ref.object.sha
            and self.holds(bot_commit, base_sha, base_entries, final)
        ):
            head_sha = bot_commit.sha  # the branch already shows exactly these fixes: write nothing
        else:
            commit = self.commit(base_commit, final, commit_message)
            head_sha, newer = self.move_branch(head_ref, commit, base_sha)
            written = head_sha == commit.sha
            if newer:
                self.notes.append("a newer run updated the branch meanwhile; its commit is kept")
                return self.outcome("none", open_pull, head_sha, held_back)

        final_pairs = [(path, rule) for path, rule in pairs if path in final]
        text = body(held_back) if callable(body) else body
        text = _with_marker(text, fixes_marker(final_pairs))
        return self.publish(open_pull, text, title, labels, draft, reviewers, assignees, head_sha, written, held_back)

    # -- reading the state ----------------------------------------------------------------------
    def base_tip(self, checkout: str | None) -> str:
        """The base branch's tip; never older than the commit the workflow checked out."""
        import time

        from github import UnknownObjectException

        try:
            base_sha = self.repo.get_git_ref(f"heads/{self.base}").object.sha
        except UnknownObjectException:
            raise BotError(f"the base branch {self.base!r} does not exist") from None
        if not checkout or checkout == base_sha or not self.checkout_is_newer(checkout, base_sha):
            return base_sha
        # GitHub's answer lags the push the workflow checked out (its refs are eventually consistent):
        # ask once more, then build on the checkout, whose files are the ones hardener read.
        time.sleep(float(os.environ.get("HARDENER_GITHUB_RETRY_WAIT", "2")) / 2)
        base_sha = self.repo.get_git_ref(f"heads/{self.base}").object.sha
        if checkout == base_sha or not self.checkout_is_newer(checkout, base_sha):
            return base_sha
        return checkout

    def checkout_is_newer(self, checkout: str, base_sha: str) -> bool:
        from github import UnknownObjectException

        try:
            return bool(self.contains(checkout, base_sha))
        except UnknownObjectException:  # a commit GitHub does not have: nothing to build on
            return False

    def contains(self, newer: str, older: str) -> bool | None:
        """Whether `older` is an ancestor of `newer` (or the same); None when only `newer` is behind."""
        if newer == older:
            return True
        status = self.repo.compare(older, newer).status
        if status in ("ahead", "identical"):
            return True
        return None if status == "behind" else False

    def bot_commit(self, head_sha: str, base_sha: str):
        """(hardener's commit under the branch head, None) or (None, the first commit someone else made).

        GitHub's "Update branch" merges the base into the branch; such merges are walked through,
        since the bot rebuilds its commit on the current base anyway.
        """
        sha = head_sha
        for _ in range(UPDATE_MERGES_MAX + 1):
            commit = self.repo.get_git_commit(sha)
            if TRAILER in commit.message:
                return commit, None
            parents = [p.sha for p in commit.parents]
            update = f"Merge branch '{self.base}' into {self.branch}"
            if len(parents) == 2 and commit.message.split("\n", 1)[0] == update and self.contains(base_sha, parents[1]):
                sha = parents[0]
                continue
            return None, commit
        return None, commit

    def declined(self, pull, title: str, pairs) -> bool:
        """A closed, unmerged pull request of the bot's with this title said no to these fixes."""
        if pull.state != "closed" or pull.merged_at is not None or pull.title != title:
            return False
        if not proposes_nothing_new(pull.body, pairs):
            return False
        said = [c.body or "" for c in pull.get_issue_comments()]
        if any(CLOSED_MARKER in text or text.startswith(CLOSED_NOTE) for text in said):
            return False  # hardener closed it, having nothing left to fix then
        if not any(DECLINED_MARKER in text for text in said):
            pull.create_issue_comment(
                f"{DECLINED_MARKER}\nThis pull request was closed without merging, so hardener will not open "
                "these fixes again. It opens a new pull request only when the fixes it would make change.\n\n"
                "To get these fixes back: reopen this pull request (hardener then keeps it up to date), or "
                "rename this pull request's title (hardener then opens a fresh one on its next run). To stop "
                'a fix for good, turn its rule off in `.hardener.toml` (`ignore = ["<rule id>"]`, with the ids '
                "the description lists) or on the line (`# hardener: ignore=<rule id> -- why`)."
            )
            self.notes.append(f"pull request #{pull.number} was closed without merging: said once how to get it back")
        else:
            self.notes.append(f"pull request #{pull.number} was closed without merging: not opening these fixes again")
        return True

    def contents_on(self, base_entries, changes, originals, verify):
        """The fixed files as they go on the base tip: ({path: (content, mode)}, {path: why left out})."""
        from hardener.github.merge import merge_lines

        final, held_back = {}, {}
        for path, (content, mode) in sorted(changes.items()):
            original = None if originals is None else originals.get(path)
            entry = base_entries.get(path)
            if original is None or (entry is not None and entry[1] == git_blob_sha(original)):
                final[path] = (content, entry[0] if entry else mode)
                continue
            # The base branch changed this file since the workflow read it: never write over that.
            if entry is None:
                held_back[path] = "the base branch deleted or moved it since the workflow checked it out"
                continue
            try:
                theirs = _decode(self.repo.get_git_blob(entry[1]))
            except UnicodeDecodeError:
                held_back[path] = "the base branch changed it since the checkout, and it is no longer UTF-8 text"
                continue
            bom = theirs.startswith("\ufeff")
            merged = merge_lines(
                original.removeprefix("\ufeff"), content.removeprefix("\ufeff"), theirs.removeprefix("\ufeff")
            )
            if merged is None:
                held_back[path] = (
                    "the base branch changed it since the checkout, next to lines the fixes change; "
                    "the next run fixes it afresh"
                )
                continue
            problem = verify(path, theirs.removeprefix("\ufeff"), merged) if verify else None
            if problem:
                held_back[path] = f"the base branch changed it since the checkout, and the merged file fails: {problem}"
                continue
            merged = ("\ufeff" if bom else "") + merged
            if merged == theirs:
                held_back[path] = "the base branch already has these fixes"
                continue
            final[path] = (merged, entry[0])
        return final, held_back

    def holds(self, head_commit, base_sha: str, base_entries, final) -> bool:
        """The head sits on an ancestor of the base, adds exactly `final`, and the base left those files as they were."""
        parents = [p.sha for p in head_commit.parents]
        if len(parents) != 1:
            return False
        if parents[0] == base_sha:
            parent_entries = base_entries
        else:
            if not self.contains(base_sha, parents[0]):
                return False
            parent_entries = _tree_entries(self.repo, self.repo.get_git_commit(parents[0]).tree.sha)
            if any(parent_entries.get(path) != base_entries.get(path) for path in final):
                return False
        expected = dict(parent_entries)
        for path, (content, mode) in final.items():
            expected[path] = (mode, git_blob_sha(content))
        return _tree_entries(self.repo, head_commit.tree.sha) == expected

    # -- writing ---------------------------------------------------------------------------------
    def commit(self, base_commit, final, message: str):
        from github import InputGitTreeElement

        tree = base_commit.tree
        batch: list = []
        size = 0
        for path, (content, mode) in sorted(final.items()):
            if batch and (len(batch) >= TREE_BATCH_ENTRIES or size + len(content) > TREE_BATCH_BYTES):
                tree = self.repo.create_git_tree(batch, tree)
                batch, size = [], 0
            batch.append(InputGitTreeElement(path, mode, "blob", content=content))
            size += len(content.encode("utf-8"))
        tree = self.repo.create_git_tree(batch, tree)
        # No author or committer: GitHub signs commits its Actions/App token makes, so they show as verified.
        return self.repo.create_git_commit(f"{message}\n\n{TRAILER}", tree, [base_commit])

    def move_branch(self, head_ref, commit, base_sha: str) -> tuple[str, bool]:
        """Point the branch at `commit`, unless another run moved it meanwhile: (head, whether a newer run won)."""
        from github import GithubException

        repo = self.repo
        if head_ref is None:
            try:
                repo.create_git_ref(f"refs/heads/{self.branch}", commit.sha)
                return commit.sha, False
            except GithubException as exc:
                if exc.status != 422 or "already exists" not in str(exc.data):
                    raise
            current = repo.get_git_ref(f"heads/{self.branch}")  # another run made it meanwhile
        else:
            current = repo.get_git_ref(f"heads/{self.branch}")
            if current.object.sha == head_ref.object.sha:
                current.edit(commit.sha, force=True)
                return commit.sha, False
        other = repo.get_git_commit(current.object.sha)
        if TRAILER not in other.message:
            raise BotError(
                f"someone else pushed to the branch {self.branch!r} while hardener ran; it is left alone. "
                "Run again, or choose another branch with the `branch` input."
            )
        if other.tree.sha == commit.tree.sha:
            return other.sha, False  # the other run committed exactly this content
        their_base = other.parents[0].sha if other.parents else None
        if their_base and their_base != base_sha and self.contains(their_base, base_sha):
            return other.sha, True  # built on a newer base than ours: it wins
        current.edit(commit.sha, force=True)
        return commit.sha, False

    def stop_updating(self, pull, foreign, head_sha: str) -> Outcome:
        """Someone else committed on the bot branch: leave the pull request to them, and say so once."""
        if not any(STOPPED_MARKER in (c.body or "") for c in pull.get_issue_comments()):
            pull.create_issue_comment(
                f"{STOPPED_MARKER}\nSomeone else pushed a commit to this branch (`{foreign.sha[:12]}`), so hardener "
                "no longer updates this pull request: it will not overwrite that work. Merge or close it as you "
                "see fit. To have hardener take over again, close this pull request and delete the branch; its "
                "next run opens a fresh one."
            )
        self.notes.append(
            f"pull request #{pull.number}: someone else pushed to its branch, so hardener no longer updates it"
        )
        return self.outcome("none", pull, head_sha)

    def nothing_to_fix(self, open_pull, latest, head_ref, bot_commit) -> Outcome:
        ours = bot_commit is not None and head_ref is not None
        if open_pull is not None:
            note = CLOSED_NOTE
            if self.left_out:
                note += (
                    " Files whose names are not UTF-8 cannot be committed through GitHub's API: "
                    "run `hardener fix` on them locally."
                )
            open_pull.create_issue_comment(f"{note}\n\n{CLOSED_MARKER}")
            open_pull.edit(state="closed")
            if ours:
                head_ref.delete()
            return self.outcome("closed", open_pull)
        if ours and bot_commit.sha == head_ref.object.sha and latest is not None and latest.merged_at is not None:
            # A repository that does not delete merged branches keeps the bot's: it is no longer needed.
            head_ref.delete()
            self.notes.append(f"deleted the branch {self.branch} of merged pull request #{latest.number}")
            return self.outcome("none")
        return self.outcome("none", head_sha=head_ref.object.sha if head_ref else None)

    def publish(self, open_pull, body, title, labels, draft, reviewers, assignees, head_sha, written, held_back):
        from github import GithubException

        if open_pull is not None:
            changed = written
            if open_pull.title != title or (open_pull.body or "") != body:
                open_pull.edit(title=title, body=body)
                changed = True
            changed |= _add_missing_labels(open_pull, labels)
            return self.outcome("updated" if changed else "unchanged", open_pull, head_sha, held_back)
        try:
            pull = self.repo.create_pull(base=self.base, head=self.branch, title=title, body=body, draft=draft)
        except GithubException as exc:
            if exc.status == 422 and "already exists" in str(exc.data):
                pull = _open_pull(self.repo, self.owner, self.branch, self.base)  # made meanwhile by a parallel run
                if pull is None:
                    raise
                pull.edit(title=title, body=body)
                _add_missing_labels(pull, labels)
                return self.outcome("updated", pull, head_sha, held_back)
            raise
        _add_missing_labels(pull, labels)
        people = [r for r in reviewers if "/" not in r]
        teams = [r.split("/", 1)[1] for r in reviewers if "/" in r]
        try:
            if people or teams:
                pull.create_review_request(reviewers=people, team_reviewers=teams)
            if assignees:
                pull.add_to_assignees(*assignees)
        except GithubException as exc:
            # The pull request stands; a login GitHub refuses (not a collaborator) is said, not fatal.
            self.notes.append(f"could not request reviewers or assignees: {explain(exc)}")
        return self.outcome("created", pull, head_sha, held_back)


def _with_marker(body: str, marker: str) -> str:
    body = FIXES_MARKER.sub("", body).rstrip("\n")
    return f"{body}\n\n{marker}"


def _add_missing_labels(pull, labels) -> bool:
    """Add the labels the pull request lacks; labels people added stay."""
    present = {label.name for label in pull.labels}
    missing = [label for label in labels if label not in present]
    if missing:
        pull.add_to_labels(*missing)
    return bool(missing)


def _decode(blob) -> str:
    import base64

    data = base64.b64decode(blob.content) if blob.encoding == "base64" else blob.content.encode("utf-8")
    return data.decode("utf-8")


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
