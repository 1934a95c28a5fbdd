"""The GitHub Action: `python -m hardener.github.action`.

Inputs arrive as INPUT_<NAME> environment variables (never through a shell).
Modes: `pull-request` opens or updates one pull request with the fixes;
`review` posts suggestions on the files an incoming pull request changes;
`check` writes annotations, a job summary and optionally SARIF.
"""

from __future__ import annotations

import os
import re
import sys
import uuid
from dataclasses import dataclass, replace
from pathlib import Path

MODES = ("pull-request", "review", "check")
FILTER_MODES = ("added", "file")


@dataclass
class Inputs:
    mode: str = "pull-request"
    paths: tuple[str, ...] = (".",)
    unsafe_fixes: bool | None = None
    select: tuple[str, ...] | None = None
    ignore: tuple[str, ...] | None = None
    config: str | None = None
    token: str = ""
    base_branch: str | None = None
    branch: str = "hardener/harden"
    labels: tuple[str, ...] = ()
    pr_title: str = "Harden container definitions"
    sarif_file: str | None = None
    fail_on_findings: bool = False
    repository: str = ""  # owner/name the pull request or review goes to; empty: the workflow's own
    draft: bool = False
    reviewers: tuple[str, ...] = ()
    assignees: tuple[str, ...] = ()
    commit_message: str = "Harden container definitions"
    filter_mode: str = "added"  # review mode: report on the lines the pull request added, or on its whole files
    prove: bool = False  # pull-request mode: start the stacks before and after the fixes, keep what works

    @classmethod
    def from_env(cls, env) -> Inputs:
        def get(name: str) -> str:
            # Docker actions receive INPUT_UNSAFE-FIXES; a composite step can only pass INPUT_UNSAFE_FIXES.
            key = f"INPUT_{name.upper()}"
            return (env.get(key) or env.get(key.replace("-", "_")) or "").strip()

        def words(value: str) -> tuple[str, ...]:
            return tuple(w for w in value.replace(",", " ").split() if w)

        def flag(value: str) -> bool | None:
            if not value:
                return None
            if value.lower() in ("true", "yes", "1", "on"):
                return True
            if value.lower() in ("false", "no", "0", "off"):
                return False
            raise ValueError(f"expected true or false, got {value!r}")

        def selectors(name: str) -> tuple[str, ...] | None:
            chosen = words(get(name))
            if chosen:
                from hardener.rules import validate_selectors

                unknown = validate_selectors(chosen)
                if unknown:
                    raise ValueError(f"{name}: unknown rule {unknown!r} (see `hardener rules`)")
            return chosen or None

        mode = get("mode") or "pull-request"
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
        filter_mode = get("filter-mode") or "added"
        if filter_mode not in FILTER_MODES:
            raise ValueError(f"filter-mode must be one of {', '.join(FILTER_MODES)}, not {filter_mode!r}")
        repository = get("repository") or env.get("GITHUB_REPOSITORY", "")
        if repository and not re.fullmatch(r"[A-Za-z0-9-]{1,39}/[A-Za-z0-9._-]{1,100}", repository):
            raise ValueError(f"repository must be owner/name, not {repository!r}")
        people = {"reviewers": words(get("reviewers")), "assignees": words(get("assignees"))}
        for name, logins in people.items():
            bad = [login for login in logins if not re.fullmatch(r"[A-Za-z0-9](?:[A-Za-z0-9-/]{0,99})", login)]
            if bad:
                raise ValueError(f"{name}: {bad[0]!r} is not a GitHub login or org/team")
        return cls(
            mode=mode,
            paths=tuple(get("paths").split()) or (".",),
            unsafe_fixes=flag(get("unsafe-fixes")),
            select=selectors("select"),
            ignore=selectors("ignore"),
            config=get("config") or None,
            token=get("token") or env.get("GITHUB_TOKEN", ""),
            base_branch=get("base-branch") or None,
            branch=get("branch") or "hardener/harden",
            labels=words(get("labels")),
            pr_title=get("pr-title") or "Harden container definitions",
            sarif_file=get("sarif-file") or None,
            fail_on_findings=bool(flag(get("fail-on-findings"))),
            repository=repository,
            draft=bool(flag(get("draft"))),
            reviewers=people["reviewers"],
            assignees=people["assignees"],
            commit_message=get("commit-message") or "Harden container definitions",
            filter_mode=filter_mode,
            prove=bool(flag(get("prove"))),
        )


class Actions:
    """Workflow commands and files: outputs, summary, annotations; the token is masked first."""

    def __init__(self, env, out):
        self.env, self.out = env, out

    def mask(self, value: str) -> None:
        if value:
            self.out.write(f"::add-mask::{value}\n")

    def error(self, message: str) -> None:
        from hardener.reporters.github import command

        self.out.write(command("error", message) + "\n")

    def notice(self, message: str) -> None:
        from hardener.reporters.github import command

        self.out.write(command("notice", message) + "\n")

    def set_output(self, name: str, value) -> None:
        """One output in GitHub's `name<<DELIMITER` form, which holds any number of lines."""
        from hardener.reporters.escape import unicode_text

        path = self.env.get("GITHUB_OUTPUT")
        if not path:
            return
        text = unicode_text(value)  # the file is UTF-8: a name that is not must not stop the run
        delimiter = output_delimiter(text)
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(f"{name}<<{delimiter}\n{text}\n{delimiter}\n")

    def summary(self, markdown: str) -> None:
        path = self.env.get("GITHUB_STEP_SUMMARY")
        if path:
            with open(path, "a", encoding="utf-8") as fh:
                fh.write(markdown + "\n")


def _relative(path: str) -> str:
    """A path as the repository names it (forward slashes, from the workspace root)."""
    return os.path.relpath(path).replace(os.sep, "/")


def output_delimiter(value: str) -> str:
    """A random delimiter line for a multi-line output, one that `value` does not contain."""
    while True:
        delimiter = f"ghadelimiter_{uuid.uuid4()}"
        if delimiter not in value:
            return delimiter


def make_github(token: str, base_url: str):
    """A PyGithub client that waits and retries as GitHub asks (rate limits, 5xx)."""
    from github import Auth, Github, GithubRetry

    wait = float(os.environ.get("HARDENER_GITHUB_RETRY_WAIT", "60"))
    throttle = float(os.environ.get("HARDENER_GITHUB_THROTTLE", "1.0"))
    retry = GithubRetry(
        total=5, backoff_factor=min(wait, 1.0), secondary_rate_wait=wait, max_rate_limit_wait=max(wait, 1) * 10
    )
    return Github(
        auth=Auth.Token(token),
        base_url=base_url,
        retry=retry,
        timeout=30,
        seconds_between_requests=throttle / 4,
        seconds_between_writes=throttle,
    )


def main(env=None, out=None) -> int:
    env = os.environ if env is None else env
    out = out or sys.stdout
    actions = Actions(env, out)
    try:
        inputs = Inputs.from_env(env)
    except ValueError as exc:
        actions.error(f"hardener: bad input: {exc}")
        return 2
    actions.mask(inputs.token)
    workspace = Path(env.get("GITHUB_WORKSPACE") or os.getcwd())
    os.chdir(workspace)
    from hardener.files import confined_to

    # The checkout comes from a pull request: nothing outside the workspace is read or written.
    with confined_to(str(workspace)):
        return _main(inputs, actions, env, out)


def _main(inputs, actions, env, out) -> int:
    if inputs.mode == "check":
        return _check(inputs, actions, out)
    if not inputs.token:
        actions.error("hardener: no token: pass `token: ${{ secrets.GITHUB_TOKEN }}` (the default) or an App token")
        return 2
    from github import GithubException
    from requests import RequestException

    from hardener.github.pr import BotError, explain, unreachable

    try:
        if inputs.mode == "pull-request":
            return _pull_request(inputs, actions, env, out)
        return _review(inputs, actions, env, out)
    except BotError as exc:
        actions.error(f"hardener: {exc}")
    except GithubException as exc:
        actions.error(f"hardener: {explain(exc)}")
    except RequestException as exc:  # retries exhausted, connection reset
        actions.error(f"hardener: {unreachable(exc)}")
    return 1


def _overrides(inputs: Inputs) -> dict:
    overrides = {"select": inputs.select, "unsafe_fixes": inputs.unsafe_fixes}
    if inputs.ignore:
        overrides["extra_ignore"] = inputs.ignore
    return overrides


def _run(inputs: Inputs, command: str, adjust=None):
    from hardener.runner import run

    offline = os.environ.get("HARDENER_OFFLINE", "") not in ("", "0", "false")
    return run(
        list(inputs.paths),
        command,
        write=False,
        config_path=inputs.config,
        overrides=_overrides(inputs),
        offline=offline,
        adjust=adjust,
    )


def from_a_fork(env) -> str | None:
    """Why this run's code is not the repository's own, or None: a pull request from a fork (or one
    whose head repository is gone) must not have its builds and entrypoints run by `prove`."""
    import json

    if env.get("GITHUB_EVENT_NAME", "") not in ("pull_request", "pull_request_target", "pull_request_review"):
        return None
    try:
        with open(env.get("GITHUB_EVENT_PATH", ""), encoding="utf-8") as handle:
            event = json.load(handle)
    except (OSError, ValueError):
        return "the pull request's event could not be read, so it may come from a fork"
    pull = event.get("pull_request") or {}
    head = ((pull.get("head") or {}).get("repo") or {}).get("full_name")
    base = ((pull.get("base") or {}).get("repo") or {}).get("full_name")
    if not head or head != base:
        return f"the pull request comes from another repository ({head or 'deleted'})"
    return None


def _proved(inputs: Inputs, actions, env):
    """`prove: true`: start the stacks on the runner's Docker daemon first. Returns (the per-file settings
    for the fix, what the pull request says was proven: (path, verdict) pairs or why none)."""
    from dataclasses import replace

    def unproven_only_on_request(path, config):
        return config if config.unproven == "apply" else replace(config, unsafe_fixes=False)

    refused = from_a_fork(env)
    if refused:
        actions.notice(
            f"hardener: prove refused: {refused}; its code is not run, behaviour-changing fixes are not proven"
        )
        return unproven_only_on_request, f"prove refused: {refused}"
    from hardener.prove.command import prove_paths

    overrides = {**_overrides(inputs)}
    if overrides.get("unsafe_fixes") is None:
        overrides["unsafe_fixes"] = True
    run = prove_paths(list(inputs.paths), config_path=inputs.config, overrides=overrides)
    if run.problem or run.errors:
        why = run.problem or "; ".join(str(e) for e in run.errors)
        actions.notice(f"hardener: cannot prove: {why}")
        return unproven_only_on_request, f"cannot prove: {why}"

    def adjust(path, config):
        report = run.report_for(path)
        return report.config_for_fix(config) if report is not None else unproven_only_on_request(path, config)

    verdicts = [(r.path, v) for r in run.reports for v in r.verdicts]
    for path, v in verdicts:
        actions.notice(f"hardener: {path}:{v.line} {v.rule} {v.status}: {v.description}")
    return adjust, verdicts


def _report_files(report, inputs, actions, out) -> bool:
    """Annotations, the job summary and (if asked) SARIF, for any mode. False if the SARIF file was not written."""
    from hardener.reporters import github as github_reporter

    github_reporter.render(report, diff=False, out=out)
    actions.summary(github_reporter.job_summary(report))
    actions.set_output("findings", len(report.findings))
    if not inputs.sarif_file:
        return True
    import io

    from hardener.files import write_report
    from hardener.model import InputError
    from hardener.reporters import sarif

    text = io.StringIO()
    sarif.render(report, diff=False, out=text)
    from hardener.files import is_inside

    # Never through a link the checkout may have planted: at the name itself, or on the way (a folder
    # in the workspace must not lead out of it). A place the workflow names outside the workspace,
    # such as the runner's temporary folder, is its own choice.
    named = os.path.abspath(inputs.sarif_file)
    workspace = os.getcwd()
    root = workspace if is_inside(named, workspace) else os.path.dirname(named)
    try:
        write_report(inputs.sarif_file, text.getvalue(), root=root)
    except InputError as exc:
        actions.error(f"hardener: {exc}")
        return False
    return True


def _check(inputs, actions, out) -> int:
    report = _run(inputs, "check")
    # `render` has annotated every error already.
    written = _report_files(report, inputs, actions, out)
    if report.all_errors or not written:
        return 2
    return 1 if inputs.fail_on_findings and report.findings else 0


def _changes(report) -> dict[str, tuple[str, str]]:
    """{path: (fixed content, git mode)} for each changed file, by the path the repository names it."""
    return {path: (content, mode) for path, (content, mode, _original) in _changed_files(report).items()}


def _changed_files(report) -> dict[str, tuple[str, str, str]]:
    """{path: (fixed content, git mode, original content)}; contents carry the file's byte-order mark."""
    from hardener.files import resolve_inside

    changes = {}
    for outcome in report.files:
        if outcome.changed:
            # The file itself, never a link to it: a link in the tree stays a link (git mode 120000).
            real = resolve_inside(outcome.target.path)
            if real is None:
                continue
            path = _relative(real)
            mode = "100755" if os.access(real, os.X_OK) else "100644"
            bom = "\ufeff" if outcome.bom else ""
            changes[path] = (bom + outcome.fixed, mode, bom + outcome.original)
    return changes


def _fix_pairs(report) -> set[tuple[str, str]]:
    """(path, rule) for every fix made, by the path the repository names the file."""
    from hardener.files import resolve_inside

    pairs = set()
    for outcome in report.files:
        if outcome.changed:
            real = resolve_inside(outcome.target.path)
            if real is not None:
                pairs |= {(_relative(real), applied.rule) for applied in outcome.applied}
    return pairs


def _on_original_lines(report):
    """The report with remaining findings and skips on the lines of the files as checked out.

    A fix run reports what is left on the fixed text's lines; the annotations and SARIF of
    pull-request mode point into the workflow's checkout, which holds the original text.
    """
    from dataclasses import replace

    def line(source_map, number):
        return source_map.original_line(number) if number else number

    files = []
    for outcome in report.files:
        source_map = outcome.source_map if outcome.changed else None
        if source_map is None:
            files.append(outcome)
            continue
        findings = [
            replace(
                f,
                line=line(source_map, f.line),
                end_line=None if f.end_line is None else max(line(source_map, f.end_line), line(source_map, f.line)),
            )
            for f in outcome.findings
        ]
        skipped = [replace(s, line=line(source_map, s.line)) for s in outcome.skipped]
        files.append(replace(outcome, findings=findings, skipped=skipped))
    return replace(report, files=files)


def _verifier(inputs: Inputs):
    """`verify(path, before, after)`: what is wrong with a merged file, or None.

    `before` is the base branch's newer text, `after` the same with hardener's fixes merged in. The
    merge only joins changes that do not touch each other, so the checks are those `hardener fix`
    makes of its own output, applied to this pair: the real parser reads the merged file with the
    file's own settings, every rule runs on it, and nothing changed that a fix does not own (parser
    directives, heredocs, instructions no fix edits, Compose anchors and comments).
    """
    from hardener import engine, kinds
    from hardener.config import ConfigFinder
    from hardener.model import InputError, VerificationError

    finder = ConfigFinder(Path(inputs.config) if inputs.config else None)

    def verify(path: str, before: str, after: str) -> str | None:
        config = finder.for_path(Path(path)).with_overrides(**_overrides(inputs))
        kind = kinds.kind_for(path, config)
        file_kind = kinds.kind_named(kind)
        try:
            engine.check_text(after, path, config, kind)
            merged = file_kind.parse(after, path)
        except InputError as exc:
            return f"it does not parse ({exc.message})"
        try:
            file_kind.verify(file_kind.parse(before, path), merged)
        except InputError:
            pass  # the base branch's own text does not parse: the merged file parses, which is better
        except VerificationError as exc:
            return str(exc)
        return None

    return verify


def _checkout_commit(workspace: Path, branch: str) -> str | None:
    """The commit the workflow checked out, when it checked out `branch` (read from .git, without git)."""
    git = workspace / ".git"
    try:
        head = (git / "HEAD").read_text(encoding="ascii").strip()
        if head != f"ref: refs/heads/{branch}":
            return None  # a detached or merge checkout: not the base branch's tip
        loose = git / "refs" / "heads" / branch
        if loose.is_file():
            sha = loose.read_text(encoding="ascii").strip()
        else:
            found = [
                line.split()[0]
                for line in (git / "packed-refs").read_text(encoding="ascii").splitlines()
                if line.endswith(f" refs/heads/{branch}")
            ]
            sha = found[0] if found else ""
    except (OSError, UnicodeDecodeError):
        return None
    return sha if re.fullmatch(r"[0-9a-f]{40}", sha) else None


def _without_files(report, paths):
    """The report without the files at these (relative) paths: the pull request's description shows what it holds."""
    if not paths:
        return report
    from dataclasses import replace

    from hardener.files import resolve_inside

    left_out = set(paths)

    def named(outcome) -> bool:
        real = resolve_inside(outcome.target.path)
        return _relative(outcome.target.path) in left_out or (real is not None and _relative(real) in left_out)

    return replace(report, files=[o for o in report.files if not named(o)])


def _repository(inputs, env):
    """The repository the pull request or review goes to: the `repository` input, else the workflow's own."""
    gh = make_github(inputs.token, env.get("GITHUB_API_URL", "https://api.github.com"))
    if not inputs.repository:
        from hardener.github.pr import BotError

        raise BotError("no repository: set the `repository` input (owner/name)")
    return gh.get_repo(inputs.repository)


def _pull_request(inputs, actions, env, out) -> int:
    from hardener.github.body import render_body
    from hardener.github.pr import split_committable, sync_pull_request
    from hardener.reporters.escape import visible

    adjust, proven = _proved(inputs, actions, env) if inputs.prove else (None, None)
    if inputs.prove and inputs.unsafe_fixes is None:
        inputs = replace(inputs, unsafe_fixes=True)  # proving is for the behaviour-changing fixes
    report = _run(inputs, "fix", adjust)
    written = _report_files(_on_original_lines(report), inputs, actions, out)
    files = _changed_files(report)
    changes, left_out = split_committable(_changes(report))
    for path in left_out:
        actions.notice(
            f"hardener: left {path} out of the pull request: its name is not UTF-8, which GitHub's API cannot "
            "carry; run `hardener fix` on it locally"
        )
    repo = _repository(inputs, env)
    base = inputs.base_branch or repo.default_branch

    def body(held_back: dict[str, str]) -> str:
        shown = _without_files(report, [*left_out, *held_back])
        return render_body(shown, _relative, held_back=held_back, proven=proven)

    outcome = sync_pull_request(
        repo,
        changes,
        body=body,
        title=inputs.pr_title,
        branch=inputs.branch,
        base=base,
        labels=inputs.labels,
        commit_message=inputs.commit_message,
        draft=inputs.draft,
        reviewers=inputs.reviewers,
        assignees=inputs.assignees,
        originals={path: files[path][2] for path in changes},
        verify=_verifier(inputs),
        fixes=_fix_pairs(report),
        checkout=_checkout_commit(Path.cwd(), base),
    )
    committed = sorted(path for path in changes if path not in outcome.held_back)
    # One path a line, each shown as escaped text: a line break in a name cannot add an entry.
    actions.set_output("changed-files", "\n".join(visible(path) for path in committed))
    for path, why in sorted(outcome.held_back.items()):
        actions.notice(f"hardener: left {path} out of this commit: {why}")
    for note in outcome.notes:
        actions.notice(f"hardener: {note}")
    actions.set_output("pr-number", outcome.number or "")
    actions.set_output("pr-url", outcome.url or "")
    actions.set_output("operation", "none" if outcome.operation == "unchanged" else outcome.operation)
    actions.set_output("head-sha", outcome.head_sha if outcome.head_sha and outcome.operation != "closed" else "")
    pull = f"{repo.full_name}#{outcome.number}"
    messages = {
        "created": f"opened pull request {pull}",
        "updated": f"updated pull request {pull}",
        "unchanged": f"pull request {pull} is up to date",
        "closed": f"closed pull request {pull}: nothing left to fix",
        "none": f"left pull request {pull} as it is" if outcome.number else f"nothing to fix in {repo.full_name}",
    }
    actions.notice(f"hardener: {messages[outcome.operation]}")
    actions.summary(f"**hardener**: {messages[outcome.operation]}" + (f" ({outcome.url})" if outcome.url else ""))
    if report.all_errors or not written:
        return 2
    return 1 if inputs.fail_on_findings and report.findings else 0


def _review(inputs, actions, env, out) -> int:
    from hardener.github.review import review_pull_request

    return review_pull_request(inputs, actions, env, out)


if __name__ == "__main__":
    sys.exit(main())
