"""One run over many files: discover, read, check or fix, write. The shell around the pure engine."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from hardener.config import Config, ConfigFinder
from hardener.discovery import Target, discover
from hardener.kinds import kind_named
from hardener.model import AppliedFix, Finding, InputError, Skip


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

    @property
    def changed(self) -> bool:
        return self.error is None and self.fixed != self.original


@dataclass
class RunReport:
    command: str
    files: list[FileOutcome] = field(default_factory=list)
    errors: list[InputError] = field(default_factory=list)  # paths that could not be used at all
    pinning: object = None  # ResolveStats when images were resolved

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
) -> RunReport:
    """`command` is "check" or "fix"; `write` puts fixes on disk (fix without --diff)."""
    from hardener import engine

    report = RunReport(command)
    try:
        finder = ConfigFinder(Path(config_path) if config_path else None)
    except InputError as exc:
        report.errors.append(exc)
        return report
    overrides = overrides or {}

    def config_for(path: str) -> Config:
        return finder.for_path(Path(path)).with_overrides(**overrides)

    try:
        targets, errors = discover(paths, lambda folder: finder.for_path(Path(folder)))
    except InputError as exc:
        report.errors.append(exc)
        return report
    report.errors.extend(errors)
    sources = [_read(target, config_for) for target in targets]
    try:
        digests = _digests(sources, config_for, paths, offline, report, engine)
    except InputError as exc:  # an unusable lock file or CA bundle: one line, exit 2, nothing touched
        report.errors.append(exc)
        return report
    work = [(t, s, c, command, write, digests) for t, (s, c, e) in zip(targets, sources, strict=True) if s is not None]
    errors = {id(t): e for t, (s, c, e) in zip(targets, sources, strict=True) if e is not None}
    outcomes = iter(_process_all(work, jobs, progress))
    shared_errors: set[str] = set()  # a bad settings file stops every file below it: said once
    for target, (source, _config, _error) in zip(targets, sources, strict=True):
        if id(target) in errors:
            error = errors[id(target)]
            if error.path != target.path:
                if str(error) in shared_errors:
                    continue
                shared_errors.add(str(error))
            report.files.append(FileOutcome(target, error=error))
        elif source is not None:
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
    from hardener import engine
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
    try:
        digests = _digests([(source, config, None)], lambda _path: config, [path], offline, report, engine)
    except InputError as exc:
        report.errors.append(exc)
        return report
    report.files.append(_one(target, source, config, command, False, digests, engine))
    return report


# Fix runs hand each changed compose file to Docker Compose (a kind's external check), a program of its own that takes tens of
# milliseconds: those waits overlap in threads. Everything else costs a few milliseconds a file of
# Python holding the GIL, where more threads do not help, and worker processes barely pay on two
# CPUs (benchmarks/compare.py). Worker processes are not used at all: the Dockerfile parser's Go
# runtime does not survive a fork (forked workers hang), and spawned workers would lose the state
# of the calling process, such as the root an Action run is confined to.
PARALLEL_THRESHOLD = 4  # compose checks a fix run needs before it uses threads


def _process_all(work: list, jobs: int | None, progress) -> list[FileOutcome]:
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


def _waits_on_compose(item) -> bool:
    target, _source, config, command, _write, _digests = item
    return command == "fix" and kind_named(target.kind).has_external_check(config)


def _process(item) -> FileOutcome:
    from hardener import engine

    target, source, config, command, write, digests = item
    return _one(target, source, config, command, write, digests, engine)


def _read(target: Target, config_for):
    """(source, config, error) for one file."""
    from hardener.files import read_source

    try:
        source = read_source(target.path)
        if not kind_named(target.kind).is_relevant(source.text):
            return None, None, None  # not about containers: not part of the run
        return source, config_for(target.path), None
    except InputError as exc:
        if kind_named(target.kind).found_by_content and not target.explicit:
            return None, None, None  # an unreadable or empty module found by walking is not about containers
        exc.path = exc.path or target.path
        return None, None, exc


def _digests(sources, config_for, paths, offline: bool, report, engine) -> dict:
    """Resolve, once for the run, every image reference the pin rules will need."""
    keys: set[str] = set()
    if not _could_resolve(config_for(paths[0] if paths else "."), offline):
        return {}
    for source, config, error in sources:
        if source is not None and error is None:
            try:
                keys |= engine.image_references(source.text, source.path, config)
            except InputError:
                pass  # reported when the file itself is processed
    if not keys:
        return {}
    from hardener.registry.resolve import resolve_references

    digests, report.pinning = resolve_references(keys, config_for(paths[0] if paths else "."), offline)
    return digests


def _could_resolve(config, offline: bool) -> bool:
    """Offline, digests can only come from the cache or a lock file; without either, skip the pre-pass."""
    if not offline:
        return True
    from hardener.registry.cache import cache_folder

    return bool(config.digest_lock_file) or (cache_folder() / "digests.json").exists()


def _one(target: Target, source, config, command: str, write: bool, digests, engine) -> FileOutcome:
    from hardener.files import write_atomic

    outcome = FileOutcome(target)
    try:
        outcome.original = outcome.fixed = source.text
        outcome.bom = source.bom
        if command == "check":
            outcome.findings = engine.check_text(source.text, target.path, config, target.kind, digests)
            outcome.skipped = engine.skips_for(outcome.findings, config)
            return outcome
        result = engine.fix_text(source.text, target.path, config, target.kind, digests)
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
                outcome.findings = engine.check_text(source.text, target.path, config, target.kind, digests)
                raise
            outcome.written = True
    except InputError as exc:
        exc.path = exc.path or target.path
        outcome.error = exc
        outcome.fixed = outcome.original
    return outcome
