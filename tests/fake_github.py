"""A stateful fake of the GitHub REST API on loopback, backed by a real bare git repository.

PyGithub talks to it over real HTTP. Git objects (blobs, trees, commits, refs)
are made with git's own plumbing in a bare repository, so tests can check out
what the bot pushed and diff it. It reproduces the behaviours that matter:
422 for an existing pull request, 403 when Actions may not create pull
requests, 403 for a read-only token, a secondary rate limit with
Retry-After, and pagination.
"""

from __future__ import annotations

import base64
import http.server
import json
import os
import re
import subprocess
import tempfile
import threading
import urllib.parse
from pathlib import Path

from .registry_server import free_port

GIT_ENV = {
    "GIT_AUTHOR_NAME": "github-actions[bot]",
    "GIT_AUTHOR_EMAIL": "41898282+github-actions[bot]@users.noreply.github.com",
    "GIT_COMMITTER_NAME": "GitHub",
    "GIT_COMMITTER_EMAIL": "noreply@github.com",
}


class FakeGitHub:
    def __init__(
        self,
        root: Path,
        owner: str = "acme",
        name: str = "shop",
        files: dict[str, str] | None = None,
        *,
        host: FakeGitHub | None = None,
    ):
        self.owner, self.name = owner, name
        self.git_dir = root / (f"{owner}-{name}.git" if host else "remote.git")
        self.host = host or self
        self.repositories: dict[str, FakeGitHub] = {} if host else {f"{owner}/{name}": self}
        self.issue_comments_by_others: list[dict] = []
        self.hooks: list[tuple[str, str, object]] = []  # (method, path pattern, callback) run once before a request
        self._git("init", "-q", "--bare", "-b", "main", str(self.git_dir), cwd=root, bare=False)
        self.pulls: dict[int, dict] = {}
        self.comments: list[dict] = []  # issue comments
        self.reviews: list[dict] = []
        self.review_comments: list[dict] = []
        self.calls: list[tuple[str, str]] = []
        self.forbid_pull_requests = False  # the repository setting that stops Actions opening PRs
        self.read_only = False  # a token without write permissions (pull requests from forks)
        self.rate_limit_next_writes = 0  # answer this many writes with a secondary rate limit
        self.per_page_max = 2  # small pages, so pagination is exercised
        self.verified: set[str] = set()
        self.stale_ref_reads: dict[str, list[str]] = {}  # branch: the shas its next reads answer, oldest first
        self.errors: list[str] = []  # tracebacks of the fake itself
        self._current_url = ""
        self._next = 1
        self._lock = threading.Lock()
        self.commit_files("main", files or {}, "initial commit")
        if host is None:
            self._start()
        else:
            host.repositories[f"{owner}/{name}"] = self
            self.port, self.url = host.port, host.url

    def add_repository(self, root: Path, owner: str, name: str, files: dict[str, str] | None = None) -> FakeGitHub:
        """Another repository served on the same fake (an organisation's repositories, for one token)."""
        return FakeGitHub(root, owner, name, files, host=self)

    def on(self, method: str, pattern: str, callback) -> None:
        """Run `callback()` once, just before the first request that matches (to stage a race)."""
        self.hooks.append((method, pattern, callback))

    # -- git --------------------------------------------------------------
    def _git(
        self, *args, input: str | bytes | None = None, env: dict | None = None, cwd=None, bare=True, strip=True
    ) -> str:
        command = ["git", *(["--git-dir", str(self.git_dir)] if bare else []), *args]
        data = input.encode() if isinstance(input, str) else input
        out = subprocess.run(
            command, input=data, capture_output=True, cwd=cwd, env={**os.environ, **GIT_ENV, **(env or {})}
        )
        if out.returncode != 0:
            raise RuntimeError(out.stderr.decode())
        return out.stdout.decode().strip() if strip else out.stdout.decode()

    def _blob(self, content: bytes) -> str:
        return self._git("hash-object", "-w", "--stdin", input=content)

    def _tree(self, base_tree: str | None, entries: list[dict]) -> str:
        with tempfile.TemporaryDirectory() as tmp:
            env = {"GIT_INDEX_FILE": os.path.join(tmp, "index")}
            if base_tree:
                self._git("read-tree", base_tree, env=env)
            for entry in entries:
                if entry.get("sha") is None and "content" not in entry:
                    # A null sha deletes the path (mode 0 in --index-info removes it without a work tree).
                    self._git("update-index", "--index-info", input=f"0 {'0' * 40}\t{entry['path']}\n", env=env)
                    continue
                sha = entry.get("sha") or self._blob(entry["content"].encode())
                self._git("update-index", "--add", "--cacheinfo", f"{entry['mode']},{sha},{entry['path']}", env=env)
            return self._git("write-tree", env=env)

    def commit_files(self, branch: str, files: dict[str, str], message: str) -> str:
        """A commit on `branch` (as a developer pushing would; a new branch starts from main)."""
        parent = self.ref(branch) or self.ref("main")
        base = self._git("rev-parse", f"{parent}^{{tree}}") if parent else None
        tree = self._tree(base, [{"path": p, "mode": "100644", "content": c} for p, c in files.items()])
        sha = self._git("commit-tree", tree, *(["-p", parent] if parent else []), input=message)
        self._git("update-ref", f"refs/heads/{branch}", sha)
        return sha

    def ref(self, branch: str) -> str | None:
        try:
            return self._git("rev-parse", "--verify", "-q", f"refs/heads/{branch}")
        except RuntimeError:
            return None

    def read(self, branch: str, path: str) -> str:
        return self._git("show", f"{branch}:{path}", strip=False)

    def changed_files(self, base: str, head: str) -> list[str]:
        out = self._git("diff", "--name-only", f"{base}...{head}")
        return out.splitlines() if out else []

    # -- http -------------------------------------------------------------------
    def _start(self) -> None:
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else None
                try:
                    status, data, headers = fake.route(self.command, self.path, body, dict(self.headers))
                except Exception as exc:  # a bug in the fake: answer 500 and say why
                    import traceback

                    status, data, headers = 500, {"message": "".join(traceback.format_exception(exc))}, None
                    fake.errors.append(data["message"])
                payload = b"" if data is None else json.dumps(data).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _handle

        self.port = free_port()
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.host.httpd.shutdown()

    def route(self, method: str, raw_path: str, body, headers: dict):
        """Send a request to the repository it names (404 for one this fake does not serve)."""
        m = re.match(r"/repos/([^/]+)/([^/?]+)", raw_path)
        target = self.repositories.get(f"{m.group(1)}/{m.group(2)}") if m else None
        if target is None:
            self.calls.append((method, urllib.parse.urlsplit(raw_path).path))
            return 404, {"message": "Not Found"}, None
        return target.dispatch(method, raw_path, body, headers)

    @property
    def writes(self) -> list[tuple[str, str]]:
        return [c for c in self.calls if c[0] != "GET"]

    def dispatch(self, method: str, raw_path: str, body, headers: dict):
        parts = urllib.parse.urlsplit(raw_path)
        path, query = parts.path, dict(urllib.parse.parse_qsl(parts.query))
        for hook in list(self.hooks):
            if hook[0] == method and re.search(hook[1], path):
                self.hooks.remove(hook)
                hook[2]()
        with self._lock:
            self.calls.append((method, path))
            if not headers.get("Authorization"):
                return 401, {"message": "Requires authentication"}, None
            if method != "GET":
                if self.read_only:
                    return 403, {"message": "Resource not accessible by integration"}, None
                if self.rate_limit_next_writes:
                    self.rate_limit_next_writes -= 1
                    return (
                        403,
                        {
                            "message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
                        },
                        {"Retry-After": "0"},
                    )
            prefix = f"/repos/{self.owner}/{self.name}"
            if not path.startswith(prefix):
                return 404, {"message": "Not Found"}, None
            rest = path[len(prefix) :]
            for pattern, verb, handler in self._routes():
                m = re.fullmatch(pattern, rest)
                if m and verb == method:
                    return handler(body or {}, query, *m.groups())
            return 404, {"message": "Not Found"}, None

    def _routes(self):
        return [
            (r"", "GET", self._repo),
            (r"/git/ref/heads/(.+)", "GET", self._get_ref),
            (r"/git/refs", "POST", self._create_ref),
            (r"/git/refs/heads/(.+)", "PATCH", self._update_ref),
            (r"/git/refs/heads/(.+)", "DELETE", self._delete_ref),
            (r"/git/commits/([0-9a-f]+)", "GET", self._get_commit),
            (r"/git/commits", "POST", self._create_commit),
            (r"/git/blobs", "POST", self._create_blob),
            (r"/git/trees", "POST", self._create_tree),
            (r"/git/trees/([0-9a-f]+)", "GET", self._get_tree),
            (r"/pulls", "GET", self._list_pulls),
            (r"/pulls", "POST", self._create_pull),
            (r"/pulls/(\d+)", "GET", self._get_pull),
            (r"/pulls/(\d+)", "PATCH", self._edit_pull),
            (r"/pulls/(\d+)/files", "GET", self._pull_files),
            (r"/pulls/(\d+)/reviews", "GET", self._list_reviews),
            (r"/pulls/(\d+)/reviews", "POST", self._create_review),
            (r"/pulls/(\d+)/reviews/(\d+)", "PUT", self._update_review),
            (r"/pulls/(\d+)/comments", "GET", self._list_review_comments),
            (r"/pulls/comments/(\d+)", "DELETE", self._delete_review_comment),
            (r"/pulls/comments/(\d+)", "PATCH", self._edit_review_comment),
            (r"/pulls/comments/(\d+)", "GET", self._get_review_comment),
            (r"/pulls/(\d+)/comments/(\d+)/replies", "POST", self._reply_review_comment),
            (r"/pulls/(\d+)/requested_reviewers", "POST", self._request_reviewers),
            (r"/issues/(\d+)/comments", "POST", self._create_comment),
            (r"/issues/(\d+)/comments", "GET", self._list_comments),
            (r"/issues/(\d+)/labels", "POST", self._add_labels),
            (r"/issues/(\d+)/assignees", "POST", self._add_assignees),
            (r"/compare/(.+?)\.\.\.(.+)", "GET", self._compare),
            (r"/contents/(.+)", "GET", self._get_contents),
            (r"/commits/([^/]+)", "GET", self._get_repo_commit),
            (r"/git/blobs/([0-9a-f]+)", "GET", self._get_blob),
        ]

    # -- JSON shapes -------------------------------------------------------------
    @property
    def api(self) -> str:
        return f"{self.url}/repos/{self.owner}/{self.name}"

    def _id(self) -> int:
        self._next += 1
        return self._next

    def _repo(self, body, query):
        return (
            200,
            {
                "id": 1,
                "name": self.name,
                "full_name": f"{self.owner}/{self.name}",
                "owner": {"login": self.owner},
                "default_branch": "main",
                "url": self.api,
                "html_url": f"https://github.test/{self.owner}/{self.name}",
                "fork": False,
            },
            None,
        )

    def _ref_json(self, branch: str, sha: str) -> dict:
        return {
            "ref": f"refs/heads/{branch}",
            "url": f"{self.api}/git/refs/heads/{branch}",
            "object": {"sha": sha, "type": "commit", "url": f"{self.api}/git/commits/{sha}"},
        }

    def _get_ref(self, body, query, branch):
        stale = self.stale_ref_reads.get(branch)
        if stale:  # GitHub's refs are eventually consistent: a read can lag a push
            return 200, self._ref_json(branch, stale.pop(0)), None
        sha = self.ref(branch)
        return (200, self._ref_json(branch, sha), None) if sha else (404, {"message": "Not Found"}, None)

    def _create_ref(self, body, query):
        branch = body["ref"].removeprefix("refs/heads/")
        if self.ref(branch):
            return 422, {"message": "Reference already exists"}, None
        self._git("update-ref", f"refs/heads/{branch}", body["sha"])
        return 201, self._ref_json(branch, body["sha"]), None

    def _update_ref(self, body, query, branch):
        current = self.ref(branch)
        if current is None:
            return 422, {"message": "Reference does not exist"}, None
        is_ancestor = (
            subprocess.run(
                ["git", "--git-dir", str(self.git_dir), "merge-base", "--is-ancestor", current, body["sha"]]
            ).returncode
            == 0
        )
        if not body.get("force") and not is_ancestor:
            return 422, {"message": "Update is not a fast forward"}, None
        self._git("update-ref", f"refs/heads/{branch}", body["sha"])
        return 200, self._ref_json(branch, body["sha"]), None

    def _delete_ref(self, body, query, branch):
        self._git("update-ref", "-d", f"refs/heads/{branch}")
        return 204, None, None

    def _commit_json(self, sha: str) -> dict:
        tree = self._git("rev-parse", f"{sha}^{{tree}}")
        parents = self._git("rev-list", "--parents", "-n", "1", sha).split()[1:]
        message = self._git("log", "-1", "--format=%B", sha)
        return {
            "sha": sha,
            "url": f"{self.api}/git/commits/{sha}",
            "message": message,
            "tree": {"sha": tree, "url": f"{self.api}/git/trees/{tree}"},
            "parents": [{"sha": p, "url": f"{self.api}/git/commits/{p}"} for p in parents],
            "author": {"name": GIT_ENV["GIT_AUTHOR_NAME"]},
            # GitHub signs API commits made as the app when no author or committer is given.
            "verification": {"verified": sha in self.verified},
        }

    def _get_commit(self, body, query, sha):
        return 200, self._commit_json(sha), None

    def _create_commit(self, body, query):
        parents = [a for p in body.get("parents", []) for a in ("-p", p)]
        sha = self._git("commit-tree", body["tree"], *parents, input=body["message"])
        if "author" not in body and "committer" not in body:
            self.verified.add(sha)
        return 201, self._commit_json(sha), None

    def _create_blob(self, body, query):
        data = base64.b64decode(body["content"]) if body.get("encoding") == "base64" else body["content"].encode()
        sha = self._blob(data)
        return 201, {"sha": sha, "url": f"{self.api}/git/blobs/{sha}"}, None

    def _create_tree(self, body, query):
        sha = self._tree(body.get("base_tree"), body["tree"])
        return 201, {"sha": sha, "url": f"{self.api}/git/trees/{sha}", "tree": []}, None

    def _get_tree(self, body, query, sha):
        entries = []
        # -z: names as git stores them (a line break or a quote in a name is not quoted, as on GitHub,
        # which shows bytes that are not UTF-8 as U+FFFD).
        listing = subprocess.run(
            ["git", "--git-dir", str(self.git_dir), "ls-tree", "-r", "-t", "-z", sha], capture_output=True, check=True
        ).stdout.decode("utf-8", "replace")
        for line in filter(None, listing.split("\0")):
            meta, path = line.split("\t", 1)
            mode, kind, object_sha = meta.split()
            entries.append({"path": path, "mode": mode, "type": kind, "sha": object_sha})
        return 200, {"sha": sha, "url": f"{self.api}/git/trees/{sha}", "tree": entries, "truncated": False}, None

    def _pull_json(self, pr: dict) -> dict:
        return {
            "number": pr["number"],
            "id": pr["number"],
            "state": pr["state"],
            "title": pr["title"],
            "body": pr["body"],
            "url": f"{self.api}/pulls/{pr['number']}",
            "html_url": f"https://github.test/{self.owner}/{self.name}/pull/{pr['number']}",
            "issue_url": f"{self.api}/issues/{pr['number']}",
            "head": {
                "ref": pr["head"],
                "sha": self.ref(pr["head"]) or pr.get("head_sha"),
                "label": f"{self.owner}:{pr['head']}",
                "repo": {"full_name": pr.get("head_repo", f"{self.owner}/{self.name}")},
            },
            "base": {
                "ref": pr["base"],
                "sha": self.ref(pr["base"]),
                "repo": {"full_name": f"{self.owner}/{self.name}"},
            },
            "labels": [{"name": n} for n in pr["labels"]],
            "draft": pr.get("draft", False),
            "user": {"login": pr["user"]},
            "merged": pr.get("merged", False),
            "merged_at": "2026-01-01T00:00:00Z" if pr.get("merged") else None,
            "requested_reviewers": [{"login": n} for n in pr.get("reviewers", [])],
            "requested_teams": [{"slug": n, "name": n} for n in pr.get("team_reviewers", [])],
            "assignees": [{"login": n} for n in pr.get("assignees", [])],
        }

    def _paged(self, items: list, query: dict):
        per_page = min(int(query.get("per_page", 30)), self.per_page_max)
        page = int(query.get("page", 1))
        chunk = items[(page - 1) * per_page : page * per_page]
        headers = {}
        if page * per_page < len(items):
            params = {**query, "page": page + 1, "per_page": per_page}
            headers["Link"] = f'<{self._current_url}?{urllib.parse.urlencode(params)}>; rel="next"'
        return 200, chunk, headers

    def _list_pulls(self, body, query):
        state = query.get("state", "open")
        items = [
            self._pull_json(p)
            for p in self.pulls.values()
            if (state == "all" or p["state"] == state)
            and ("head" not in query or query["head"] == f"{self.owner}:{p['head']}")
            and ("base" not in query or query["base"] == p["base"])
        ]
        self._current_url = f"{self.api}/pulls"
        return self._paged(items, query)

    def _create_pull(self, body, query):
        if self.forbid_pull_requests:
            return 403, {"message": "GitHub Actions is not permitted to create or approve pull requests."}, None
        for p in self.pulls.values():
            if p["state"] == "open" and p["head"] == body["head"] and p["base"] == body["base"]:
                return (
                    422,
                    {
                        "message": "Validation Failed",
                        "errors": [{"message": f"A pull request already exists for {self.owner}:{body['head']}."}],
                    },
                    None,
                )
        number = self._id()
        self.pulls[number] = {
            "number": number,
            "state": "open",
            "title": body["title"],
            "body": body.get("body", ""),
            "head": body["head"],
            "base": body["base"],
            "labels": [],
            "draft": body.get("draft", False),
            "user": "github-actions[bot]",
            "reviewers": [],
            "assignees": [],
        }
        return 201, self._pull_json(self.pulls[number]), None

    def open_pull_from(
        self, head: str, title: str = "A change", user: str = "dev", head_repo: str | None = None
    ) -> int:
        """A pull request a person opened (for review mode)."""
        number = self._id()
        self.pulls[number] = {
            "number": number,
            "state": "open",
            "title": title,
            "body": "",
            "head": head,
            "base": "main",
            "labels": [],
            "user": user,
            "head_repo": head_repo or f"{self.owner}/{self.name}",
        }
        return number

    def _get_pull(self, body, query, number):
        pr = self.pulls.get(int(number))
        return (200, self._pull_json(pr), None) if pr else (404, {"message": "Not Found"}, None)

    def _edit_pull(self, body, query, number):
        pr = self.pulls[int(number)]
        if body.get("state") == "open" and pr["state"] == "closed" and (pr.get("merged") or not self.ref(pr["head"])):
            return 422, {"message": "Validation Failed", "errors": [{"message": "state cannot be changed."}]}, None
        if body.get("state") == "closed":
            pr["head_sha"] = self.ref(pr["head"]) or pr.get("head_sha")
        for key in ("title", "body", "state"):
            if key in body:
                pr[key] = body[key]
        return 200, self._pull_json(pr), None

    def _pull_files(self, body, query, number):
        pr = self.pulls[int(number)]
        base, head = self.ref(pr["base"]), self.ref(pr["head"])
        files = []
        for name in self.changed_files(base, head):
            patch = self._git("diff", f"{base}...{head}", "--", name).split("\n@@", 1)
            files.append(
                {
                    "filename": name,
                    "status": "modified",
                    "patch": "@@" + patch[1] if len(patch) > 1 else "",
                    "sha": "0" * 40,
                    "additions": 1,
                    "deletions": 0,
                    "changes": 1,
                }
            )
        self._current_url = f"{self.api}/pulls/{number}/files"
        return self._paged(files, query)

    def _review_json(self, review: dict) -> dict:
        return {
            "id": review["id"],
            "body": review["body"],
            "state": "COMMENTED",
            "user": {"login": review["user"]},
            "commit_id": review.get("commit_id"),
            "pull_request_url": f"{self.api}/pulls/{review['pull']}",
        }

    def _list_reviews(self, body, query, number):
        self._current_url = f"{self.api}/pulls/{number}/reviews"
        return self._paged([self._review_json(r) for r in self.reviews if r["pull"] == int(number)], query)

    def _create_review(self, body, query, number):
        review = {
            "id": self._id(),
            "pull": int(number),
            "body": body.get("body", ""),
            "user": "github-actions[bot]",
            "commit_id": body.get("commit_id"),
            "event": body.get("event"),
        }
        self.reviews.append(review)
        pr = self.pulls[int(number)]
        commit = body.get("commit_id") or self.ref(pr["head"])
        for comment in body.get("comments", []):
            # GitHub refuses the whole review when a comment's lines are not in the pull request's diff at that commit.
            allowed = self.diff_lines(pr["base"], commit, comment["path"])
            first = comment.get("start_line", comment["line"])
            if not all(n in allowed for n in range(first, comment["line"] + 1)):
                self.reviews.remove(review)
                return 422, {"message": "Unprocessable Entity", "errors": ["Line could not be resolved"]}, None
        for comment in body.get("comments", []):
            self.review_comments.append(
                {
                    "id": self._id(),
                    "review": review["id"],
                    "pull": int(number),
                    "commit_id": commit,
                    "user": "github-actions[bot]",
                    **comment,
                }
            )
        review["commit_id"] = commit
        return 200, self._review_json(review), None

    def _update_review(self, body, query, number, review_id):
        review = next(r for r in self.reviews if r["id"] == int(review_id))
        review["body"] = body.get("body", review["body"])
        return 200, self._review_json(review), None

    def _list_review_comments(self, body, query, number):
        items = [self._review_comment_json(c) for c in self.review_comments if c["pull"] == int(number)]
        self._current_url = f"{self.api}/pulls/{number}/comments"
        return self._paged(items, query)

    def _review_comment_json(self, c: dict) -> dict:
        return {
            "id": c["id"],
            "body": c["body"],
            "path": c["path"],
            "line": c.get("line"),
            "start_line": c.get("start_line"),
            "side": c.get("side", "RIGHT"),
            "commit_id": c.get("commit_id"),
            "original_commit_id": c.get("commit_id"),
            "in_reply_to_id": c.get("in_reply_to"),
            "pull_request_review_id": c.get("review"),
            "user": {"login": c.get("user", "github-actions[bot]")},
            "url": f"{self.api}/pulls/comments/{c['id']}",
            "html_url": f"https://github.test/{self.owner}/{self.name}/pull/{c['pull']}#discussion_r{c['id']}",
        }

    def diff_lines(self, base: str, commit: str, path: str) -> set[int]:
        """Lines of `path` at `commit` that the pull request's diff shows (changed lines and their context)."""
        base_sha = self.ref(base) or base
        lines: set[int] = set()
        for m in re.finditer(
            r"^@@ -\S+ \+(\d+)(?:,(\d+))? @@", self._git("diff", f"{base_sha}...{commit}", "--", path), re.M
        ):
            start, count = int(m.group(1)), int(m.group(2) or 1)
            lines.update(range(start, start + count))
        return lines

    def _get_review_comment(self, body, query, comment_id):
        for c in self.review_comments:
            if c["id"] == int(comment_id):
                return 200, self._review_comment_json(c), None
        return 404, {"message": "Not Found"}, None

    def _edit_review_comment(self, body, query, comment_id):
        for c in self.review_comments:
            if c["id"] == int(comment_id):
                c["body"] = body["body"]
                return 200, self._review_comment_json(c), None
        return 404, {"message": "Not Found"}, None

    def _reply_review_comment(self, body, query, number, comment_id):
        return 201, self._review_comment_json(self.reply(int(comment_id), body["body"], "github-actions[bot]")), None

    def reply(self, comment_id: int, text: str, user: str = "maintainer") -> dict:
        """Someone answers a review comment: the reply joins its thread."""
        parent = next(c for c in self.review_comments if c["id"] == comment_id)
        reply = {
            "id": self._id(),
            "review": None,
            "pull": parent["pull"],
            "path": parent["path"],
            "line": parent.get("line"),
            "commit_id": parent.get("commit_id"),
            "body": text,
            "in_reply_to": comment_id,
            "user": user,
        }
        self.review_comments.append(reply)
        return reply

    def _delete_review_comment(self, body, query, comment_id):
        self.review_comments = [c for c in self.review_comments if c["id"] != int(comment_id)]
        return 204, None, None

    def _create_comment(self, body, query, number):
        comment = {
            "id": self._id(),
            "issue": int(number),
            "body": body["body"],
            "user": {"login": "github-actions[bot]"},
        }
        self.comments.append(comment)
        return 201, {**comment, "url": f"{self.api}/issues/comments/{comment['id']}"}, None

    def _list_comments(self, body, query, number):
        self._current_url = f"{self.api}/issues/{number}/comments"
        items = [
            {**c, "url": f"{self.api}/issues/comments/{c['id']}"} for c in self.comments if c["issue"] == int(number)
        ]
        return self._paged(items, query)

    def _request_reviewers(self, body, query, number):
        pr = self.pulls[int(number)]
        pr["reviewers"] = sorted(set(pr.get("reviewers", [])) | set(body.get("reviewers", [])))
        pr["team_reviewers"] = sorted(set(pr.get("team_reviewers", [])) | set(body.get("team_reviewers", [])))
        return 201, self._pull_json(pr), None

    def _add_assignees(self, body, query, number):
        pr = self.pulls[int(number)]
        pr["assignees"] = sorted(set(pr.get("assignees", [])) | set(body.get("assignees", [])))
        return 201, {"number": int(number), "assignees": [{"login": n} for n in pr["assignees"]]}, None

    def _resolve(self, name: str) -> str | None:
        name = urllib.parse.unquote(name)
        sha = self.ref(name)
        if sha:
            return sha
        try:
            return self._git("rev-parse", "--verify", "-q", f"{name}^{{commit}}")
        except RuntimeError:
            return None

    def _compare(self, body, query, base, head):
        base_sha, head_sha = self._resolve(base), self._resolve(head)
        if not base_sha or not head_sha:
            return 404, {"message": "Not Found"}, None
        merge_base = self._git("merge-base", base_sha, head_sha)
        ahead = int(self._git("rev-list", "--count", f"{base_sha}..{head_sha}"))
        behind = int(self._git("rev-list", "--count", f"{head_sha}..{base_sha}"))
        status = (
            "identical" if ahead == behind == 0 else "ahead" if behind == 0 else "behind" if ahead == 0 else "diverged"
        )
        commits = self._git("rev-list", "--reverse", f"{base_sha}..{head_sha}").split()
        return (
            200,
            {
                "url": f"{self.api}/compare/{base}...{head}",
                "status": status,
                "ahead_by": ahead,
                "behind_by": behind,
                "total_commits": ahead,
                "merge_base_commit": self._commit_json(merge_base),
                "base_commit": self._commit_json(base_sha),
                "commits": [self._commit_json(c) for c in commits],
                "files": [],
            },
            None,
        )

    def _get_contents(self, body, query, path):
        ref = self._resolve(query.get("ref", "main"))
        try:
            data = self._git("show", f"{ref}:{urllib.parse.unquote(path)}", strip=False).encode()
            sha = self._git("rev-parse", f"{ref}:{urllib.parse.unquote(path)}")
        except (RuntimeError, TypeError):
            return 404, {"message": "Not Found"}, None
        return (
            200,
            {
                "type": "file",
                "encoding": "base64",
                "size": len(data),
                "name": path.rsplit("/", 1)[-1],
                "path": path,
                "sha": sha,
                "content": base64.b64encode(data).decode(),
                "url": f"{self.api}/contents/{path}",
            },
            None,
        )

    def _get_repo_commit(self, body, query, ref):
        sha = self._resolve(ref)
        if not sha:
            return 404, {"message": "Not Found"}, None
        git = self._commit_json(sha)
        return (
            200,
            {
                "sha": sha,
                "url": f"{self.api}/commits/{sha}",
                "commit": git,
                "parents": git["parents"],
                "files": [],
            },
            None,
        )

    def _get_blob(self, body, query, sha):
        data = subprocess.run(
            ["git", "--git-dir", str(self.git_dir), "cat-file", "blob", sha], capture_output=True
        ).stdout
        return (
            200,
            {"sha": sha, "encoding": "base64", "content": base64.b64encode(data).decode(), "size": len(data)},
            None,
        )

    # -- what people do on GitHub ---------------------------------------------------
    def close_pull(self, number: int) -> None:
        """A maintainer closes a pull request without merging it."""
        pr = self.pulls[number]
        pr["head_sha"] = self.ref(pr["head"])
        pr["state"] = "closed"

    def merge_pull(self, number: int, delete_branch: bool = False) -> str:
        """A maintainer merges a pull request (a merge commit on the base branch)."""
        pr = self.pulls[number]
        sha = self._merge(pr["base"], pr["head"], f"Merge pull request #{number}")
        self._git("update-ref", f"refs/heads/{pr['base']}", sha)
        pr.update(state="closed", merged=True, head_sha=self.ref(pr["head"]))
        if delete_branch:
            self._git("update-ref", "-d", f"refs/heads/{pr['head']}")
        return sha

    def update_branch(self, number: int) -> str:
        """GitHub's "Update branch" button: merge the base into the pull request's branch."""
        pr = self.pulls[number]
        sha = self._merge(pr["head"], pr["base"], f"Merge branch '{pr['base']}' into {pr['head']}")
        self._git("update-ref", f"refs/heads/{pr['head']}", sha)
        return sha

    def merge_checkout(self, number: int) -> str:
        """The merge commit `actions/checkout` gives on a pull_request event (refs/pull/N/merge)."""
        pr = self.pulls[number]
        sha = self._merge(pr["base"], pr["head"], f"Merge {self.ref(pr['head'])} into {self.ref(pr['base'])}")
        self._git("update-ref", f"refs/pull/{number}/merge", sha)
        self._git("update-ref", f"refs/pull/{number}/head", self.ref(pr["head"]))
        return sha

    def _merge(self, ours: str, theirs: str, message: str) -> str:
        ours_sha, theirs_sha = self.ref(ours) or ours, self.ref(theirs) or theirs
        tree = self._git("merge-tree", "--write-tree", ours_sha, theirs_sha).splitlines()[0]
        return self._git("commit-tree", tree, "-p", ours_sha, "-p", theirs_sha, input=message)

    def _add_labels(self, body, query, number):
        labels = body if isinstance(body, list) else body.get("labels", [])
        pr = self.pulls[int(number)]
        pr["labels"] = sorted(set(pr["labels"]) | set(labels))
        return 200, [{"name": n} for n in pr["labels"]], None
