"""One run over many files: discover, read, check or fix, write. The shell around the pure engine."""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from hardener.config import Config, ConfigFinder
from hardener.discovery import Target, discover
from hardener.kinds import kind_named
from hardener.model import AppliedFix, Finding, InputError, Skip

if TYPE_CHECKING:
    from hardener.evidence.repository import Repository
    from hardener.files import SourceFile
    from hardener.pinning import Resolution
    from hardener.registry.resolve import ResolveStats


@dataclass
class FileOutcome:
    target: Target
    findings: list[Finding] = field(default_factory=list)
    applied: list[AppliedFix] = field(default_factory=list)
    skipped: list[Skip] = field(default_factory=list)
    original: str = ""
    fixed: str = ""
    error: InputError | None = None
    written: bool = False
    bom: bool = False  # the file starts with a UTF-8 byte-order mark
    source_map: object = None  # textedit.SourceMap from `fixed` back to `original`, when fixes changed it
    checks: tuple[str, ...] = ()  # what re-read the fixed text (FixResult.checks)
    role: object = None  # evidence.roles.FileRole: production, development, test, ...

    @property
    def changed(self) -> bool:
        return self.error is None and self.fixed != self.original


@dataclass
class RunReport:
    command: str
    files: list[FileOutcome] = field(default_factory=list)
    errors: list[InputError] = field(default_factory=list)  # paths that could not be used at all
    pinning: ResolveStats | None = None  # when images were resolved

    @property
    def findings(self) -> list[Finding]:
        return [f for o in self.files for f in o.findings]

    @property
    def applied(self) -> list[AppliedFix]:
        return [a for o in self.files for a in o.applied]

    @property
    def skipped(self) -> list[Skip]:
        return [s for o in self.files for s in o.skipped]

    @property
    def all_errors(self) -> list[InputError]:
        return self.errors + [o.error for o in self.files if o.error is not None]

    def exit_code(self, diff: bool = False) -> int:
        if self.all_errors:
            return 2
        if self.findings or (diff and any(o.changed for o in self.files)):
            return 1
        return 0


@dataclass
class ReadFile:
    """One discovered file once read: its source and settings, or why it cannot be used."""

    target: Target
    source: SourceFile | None = None
    config: Config | None = None
    error: InputError | None = None
    document: object = None  # parsed by the pinning pre-pass, kept for the run when the budget allows

    @property
    def usable(self) -> bool:
        return self.source is not None and self.config is not None


@dataclass(frozen=True)
class WorkItem:
    """What processing one file needs: the file, its settings, the command and the registry's answers."""

    target: Target
    source: SourceFile
    config: Config
    command: str
    write: bool
    digests: Mapping[str, Resolution]
    document: object = None  # the source already parsed, or None to parse it
    # The repository the file belongs to, as read for evidence, and the file's path in it.
    repository: Repository | None = None
    repository_path: str | None = None


def run(
    paths: list[str],
    command: str,
    *,
    write: bool = False,
    config_path: str | None = None,
    overrides: dict | None = None,
    offline: bool = False,
    jobs: int | None = None,
    progress=None,
    adjust=None,
) -> RunReport:
    """`command` is "check" or "fix"; `write` puts fixes on disk (fix without --diff). `adjust(path, config)`
    gives a file its own settings on top (`fix --prove`: what the proving run learned of it)."""
    report = RunReport(command)
    try:
        finder = ConfigFinder(Path(config_path) if config_path else None)
    except InputError as exc:
        report.errors.append(exc)
        return report
    overrides = overrides or {}

    def config_for(path: str) -> Config:
        config = finder.for_path(Path(path)).with_overrides(**overrides)
        return adjust(path, config) if adjust is not None else config

    try:
        targets, errors = discover(paths, lambda folder: finder.for_path(Path(folder)))
    except InputError as exc:
        report.errors.append(exc)
        return report
    report.errors.extend(errors)
    files = [_read(target, config_for) for target in targets]
    try:
        digests = _digests(files, offline, report)
    except InputError as exc:  # an unusable lock file or CA bundle: one line, exit 2, nothing touched
        report.errors.append(exc)
        return report
    evidence = _repositories([f for f in files if f.usable], paths)
    work = [
        WorkItem(f.target, f.source, f.config, command, write, digests[id(f)], f.document, *evidence[id(f)])
        for f in files
        if f.source is not None and f.config is not None
    ]
    outcomes = iter(_process_all(work, jobs, progress))
    shared_errors: set[str] = set()  # a bad settings file stops every file below it: said once
    for read in files:
        if read.error is not None:
            error = read.error
            if error.path != read.target.path:
                if str(error) in shared_errors:
                    continue
                shared_errors.add(str(error))
            report.files.append(FileOutcome(read.target, error=error))
        elif read.usable:
            report.files.append(next(outcomes))
    return report


def run_text(
    raw: bytes,
    path: str,
    command: str,
    *,
    config_path: str | None = None,
    overrides: dict | None = None,
    offline: bool = False,
) -> RunReport:
    """Check or fix one file given as bytes (standard input), under the name `path`; nothing is written.

    The name picks the kind and the settings (searched from its folder as for a file there; it need not
    exist) and names the file in every report.
    """
    from hardener.files import SourceFile, decode_source
    from hardener.kinds import kind_for

    report = RunReport(command)
    try:
        finder = ConfigFinder(Path(config_path) if config_path else None)
        config = finder.for_path(Path(path)).with_overrides(**(overrides or {}))
    except InputError as exc:
        report.errors.append(exc)
        return report
    target = Target(path, kind_for(path, config), explicit=True)
    try:
        text, bom = decode_source(raw, path)
    except InputError as exc:
        report.files.append(FileOutcome(target, error=exc))
        return report
    if not kind_named(target.kind).is_relevant(text):
        return report  # not about containers (a Python module that does not import docker)
    source = SourceFile(path, text, bom, raw)
    read = ReadFile(target, source, config)
    try:
        digests = _digests([read], offline, report)[id(read)]
    except InputError as exc:
        report.errors.append(exc)
        return report
    report.files.append(_process(WorkItem(target, source, config, command, False, digests, read.document)))
    return report


# Fix runs hand each changed compose file to Docker Compose (a kind's external check), a program of its own that takes tens of
# milliseconds: those waits overlap in threads. Everything else costs a few milliseconds a file of
# Python holding the GIL, where more threads do not help, and worker processes barely pay on two
# CPUs (benchmarks/compare.py). Worker processes are not used at all: the Dockerfile parser's Go
# runtime does not survive a fork (forked workers hang), and spawned workers would lose the state
# of the calling process, such as the root an Action run is confined to.
PARALLEL_THRESHOLD = 4  # compose checks a fix run needs before it uses threads


def _process_all(work: list[WorkItem], jobs: int | None, progress) -> list[FileOutcome]:
    """Process files, the Compose checks of larger fix runs in several threads; results keep the input order."""
    jobs = jobs or os.cpu_count() or 1
    results = []
    if jobs > 1 and sum(map(_waits_on_compose, work)) >= PARALLEL_THRESHOLD:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=jobs) as pool:
            for outcome in pool.map(_process, work):
                results.append(outcome)
                if progress:
                    progress(len(results), len(work))
        return results
    for item in work:
        results.append(_process(item))
        if progress:
            progress(len(results), len(work))
    return results


def _waits_on_compose(item: WorkItem) -> bool:
    return item.command == "fix" and kind_named(item.target.kind).has_external_check(item.config)


def _read(target: Target, config_for) -> ReadFile:
    """The file's source and settings, or the error that stops it; neither when it is not part of the run."""
    from hardener.files import read_source

    try:
        source = read_source(target.path)
        if not kind_named(target.kind).is_relevant(source.text):
            return ReadFile(target)  # not about containers: not part of the run
        return ReadFile(target, source, config_for(target.path))
    except InputError as exc:
        if kind_named(target.kind).found_by_content and not target.explicit:
            return ReadFile(target)  # an unreadable or empty module found by walking is not about containers
        exc.path = exc.path or target.path
        return ReadFile(target, error=exc)


def _repositories(files: list[ReadFile], paths: list[str]) -> dict[int, tuple[Repository, str]]:
    """Each file's repository (read once per repository root) and its path there, by `id` of the file.

    A file's repository is that of the path named on the command line that holds it: the git repository
    around it, or the named folder itself.
    """
    from hardener.gather import evidence_root, read_repository, repository_root_of

    roots = [evidence_root(path) for path in paths if os.path.lexists(path)]
    by_root: dict[str, list[tuple[ReadFile, str]]] = defaultdict(list)
    for read in files:
        root = repository_root_of(read.target.path, roots)
        relative = os.path.relpath(os.path.realpath(read.target.path), root).replace(os.sep, "/")
        by_root[root].append((read, relative))
    out: dict[int, tuple[Repository, str]] = {}
    for root, members in by_root.items():
        texts = {relative: read.source.text for read, relative in members if read.source is not None}
        repository = read_repository(root, texts)
        for read, relative in members:
            out[id(read)] = (repository, relative)
    return out


def _registry_settings(config: Config) -> tuple:
    """The settings that decide a registry's answers (their paths are absolute by now): files sharing them
    share one resolution."""
    return (
        config.digest_lock_file,
        config.insecure_registries,
        config.registry_ca_bundle,
        config.digest_cache_ttl,
    )


# Parsed documents the pinning pre-pass may keep for the run, in estimated bytes of memory: within it
# each file is parsed once; past it, a file is parsed again rather than every tree held at once.
DOCUMENT_BUDGET_BYTES = 64 * 1024 * 1024


def _digests(files: list[ReadFile], offline: bool, report: RunReport) -> dict[int, Mapping[str, Resolution]]:
    """Resolve, once for the run, every image reference the pin rules will need, by `id` of each file.

    Each file's references are resolved under its own settings (lock file, CA bundle, insecure
    registries): files whose registry settings agree are resolved together.
    """
    from hardener import engine

    by_settings: dict[tuple, tuple[Config, set[str], list[int]]] = {}
    budget = DOCUMENT_BUDGET_BYTES
    for read in files:
        if read.source is None or read.config is None or not _could_resolve(read.config, offline):
            continue
        try:
            keys, document = engine.parsed_image_references(
                read.source.text, read.source.path, read.config, read.target.kind
            )
        except InputError:
            continue  # reported when the file itself is processed
        cost = len(read.source.text) * kind_named(read.target.kind).document_bytes_per_char
        if document is not None and cost <= budget:
            read.document, budget = document, budget - cost
        config, wanted, members = by_settings.setdefault(_registry_settings(read.config), (read.config, set(), []))
        wanted |= keys
        members.append(id(read))
    digests: dict[int, Mapping[str, Resolution]] = defaultdict(dict)
    for config, wanted, members in by_settings.values():
        if not wanted:
            continue
        from hardener.registry.resolve import resolve_references

        resolved, stats = resolve_references(wanted, config, offline)
        report.pinning = stats if report.pinning is None else report.pinning.merged(stats)
        for member in members:
            digests[member] = resolved
    return digests


def _could_resolve(config: Config, offline: bool) -> bool:
    """Offline, digests can only come from the cache or a lock file; without either, skip the pre-pass."""
    if not offline:
        return True
    from hardener.registry.cache import cache_folder

    return bool(config.digest_lock_file) or (cache_folder() / "digests.json").exists()


def _process(item: WorkItem) -> FileOutcome:
    from hardener import engine

    return _one(item, engine)


def _one(item: WorkItem, engine) -> FileOutcome:
    from hardener.files import write_atomic

    target, source, config, digests = item.target, item.source, item.config, item.digests
    command, write = item.command, item.write
    evidence = (item.repository, item.repository_path)
    outcome = FileOutcome(target)
    outcome.role = engine.file_role(target.path, config, *evidence)
    try:
        outcome.original = outcome.fixed = source.text
        outcome.bom = source.bom
        if command == "check":
            outcome.findings = engine.check_text(
                source.text, target.path, config, target.kind, digests, item.document, *evidence
            )
            outcome.skipped = engine.skips_for(outcome.findings, config)
            return outcome
        result = engine.fix_text(source.text, target.path, config, target.kind, digests, item.document, *evidence)
        outcome.findings, outcome.applied, outcome.skipped = result.findings, result.applied, result.skipped
        outcome.fixed = result.fixed
        outcome.source_map = result.source_map
        outcome.checks = result.checks
        if result.verification_error:
            outcome.error = InputError(f"fixes not written: {result.verification_error}", 0, target.path)
        elif write and result.changed:
            try:
                write_atomic(source, result.fixed)
            except InputError:
                # Not written, so nothing was fixed: report the file as it still is.
                outcome.applied = []
                outcome.source_map = None
                outcome.findings = engine.check_text(
                    source.text, target.path, config, target.kind, digests, None, *evidence
                )
                raise
            outcome.written = True
    except InputError as exc:
        exc.path = exc.path or target.path
        outcome.error = exc
        outcome.fixed = outcome.original
    return outcome
