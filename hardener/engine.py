"""The pure core: text in, findings and fixed text out. No I/O happens here.

Fixing follows ruff's loop: apply every non-overlapping fix in one pass,
re-parse, re-check, and repeat until nothing is left to fix. The result is
then verified: it re-parses with the real parser, a further run would change
nothing, and no line outside the fixes changed. A failed check returns the
original text with the reason.

The one step that leaves the process is a kind's own check of the result
(Docker Compose for compose files), when the settings turn it on: it runs in a
sandbox that reads nothing but the files the compose file names.
"""

from __future__ import annotations

import functools
import gc
from dataclasses import replace

from hardener.config import Config
from hardener.evidence.repository import Repository, normalise
from hardener.evidence.roles import FileRole, role_of
from hardener.kinds import FileKind, kind_for, kind_named
from hardener.model import AppliedFix, Edit, Finding, FixResult, InputError, Skip, Tier, VerificationError
from hardener.rules import rules_for, selected_rules
from hardener.suppressions import SuppressionContext, Suppressions
from hardener.textedit import EditMap, LineIndex, SourceMap, apply_edits, select_non_overlapping

MAX_ROUNDS = 10


def _without_cycle_collection(function):
    """Run without Python's cycle collector, which is switched back on afterwards.

    A large file's trees hold millions of objects; the collector would scan all of
    them again each time enough new ones were made, more often the larger the file
    (work growing faster than the file). Whatever cycles the run leaves are
    collected later, as usual.
    """

    @functools.wraps(function)
    def run(*args, **kwargs):
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            return function(*args, **kwargs)
        finally:
            if was_enabled:
                gc.enable()

    return run


def analyse(
    text: str,
    path: str,
    config: Config,
    kind: str | None = None,
    digests=None,
    document=None,
    repository: Repository | None = None,
    repository_path: str | None = None,
):
    """Parse (unless `document` is `text` already parsed) and run every selected rule; returns (document, findings).

    Each finding goes through the file's suppressions, which record the codes that silenced one;
    rules that read that record (unused suppressions) run after all the others. The file's role then
    decides what its findings may fix (see `hardener.evidence.roles`).
    """
    kind = kind or kind_for(path, config)
    if document is None:
        document = kind_named(kind).parse(text, path)
    repository = repository if repository is not None else Repository()
    where = normalise(repository_path if repository_path is not None else path)
    file_role = role_of(where, repository, config)
    action = config.role_action(file_role.role.value)
    if action == "off":
        return document, []
    rules = selected_rules(config, kind)
    suppressions = Suppressions(document)
    context = SuppressionContext(
        config,
        digests or {},
        repository,
        where,
        role_fixes=action == "fix",
        kind=kind,
        suppressions=suppressions,
        kind_rules=rules_for(kind),
        selected=frozenset(rule.id for rule in rules),
    )
    findings: list[Finding] = []
    for late in (False, True):
        for rule in rules:
            if getattr(rule, "reads_suppressions", False) is late:
                for finding in rule.check(document, context):
                    if not suppressions.silence(finding, rule):
                        findings.append(_in_role(finding.with_path(path), file_role, action))
    findings.sort(key=lambda f: (f.line, f.column, f.rule))
    if config.measured and kind == "compose":
        findings = _without_declined_fixes(findings, document, config)
    return document, findings


def _without_declined_fixes(findings: list[Finding], document, config: Config) -> list[Finding]:
    """Fixes `hardener prove` saw break a service are offered no more for that service, with its reason."""
    names = {service.key.line: service.name for service in document.standalone_services}
    out = []
    for finding in findings:
        measured = config.measurement(names.get(finding.line, ""))
        why = dict(measured.declined).get(finding.rule) if measured is not None else None
        if why and finding.fix is not None:
            finding = replace(finding, fix=None, fix_unavailable=why)
        out.append(finding)
    return out


def file_role(path: str, config: Config, repository: Repository | None = None, repository_path: str | None = None):
    """The file's role (hardener.evidence.roles.FileRole), as `analyse` decides it."""
    repository = repository if repository is not None else Repository()
    return role_of(normalise(repository_path if repository_path is not None else path), repository, config)


def _in_role(finding: Finding, file_role: FileRole, action: str) -> Finding:
    """The finding as the file's role allows: behaviour-changing fixes only where the role's action is "fix"."""
    role = file_role.role.value
    if action == "report" and finding.fix is not None and finding.fix.tier is Tier.BEHAVIOUR_CHANGING:
        reason = (
            f"{role} file ({file_role.reason}): behaviour-changing fixes apply to production files "
            f'(settings: roles.{role} = "fix")'
        )
        return replace(finding, fix=None, fix_unavailable=reason, role=role)
    return replace(finding, role=role)


@_without_cycle_collection
def check_text(
    text: str,
    path: str = "Dockerfile",
    config: Config | None = None,
    kind: str | None = None,
    digests=None,
    document=None,
    repository: Repository | None = None,
    repository_path: str | None = None,
) -> list[Finding]:
    """The findings for one file's text; `document`, when given, is the text already parsed.

    `repository` holds the other files of the repository the decisions read (entrypoint scripts, the
    builds that use an image), `repository_path` the file's path in it (default: `path`).
    """
    return analyse(text, path, config or Config(), kind, digests, document, repository, repository_path)[1]


def allowed_tiers(config: Config) -> set[Tier]:
    return {Tier.SAFE, Tier.BEHAVIOUR_CHANGING} if config.unsafe_fixes else {Tier.SAFE}


@_without_cycle_collection
def fix_text(
    text: str,
    path: str = "Dockerfile",
    config: Config | None = None,
    kind: str | None = None,
    digests=None,
    document=None,
    repository: Repository | None = None,
    repository_path: str | None = None,
) -> FixResult:
    """Fix one file's text. `digests` maps image references to registry answers (see pinning);
    `document`, when given, is the text already parsed (the first round does not parse it again)."""
    config = config or Config()
    kind = kind or kind_for(path, config)
    file_kind = kind_named(kind)
    tiers = allowed_tiers(config)
    original_document, findings = analyse(text, path, config, kind, digests, document, repository, repository_path)
    original_findings = findings
    original_index = LineIndex(text)
    current = text
    history: list[EditMap] = []  # the edits of each round, for mapping lines back
    applied: list[AppliedFix] = []
    try:
        for _ in range(MAX_ROUNDS):
            fixable = [f for f in findings if f.fix is not None and f.fix.tier in tiers]
            if not fixable:
                break
            accepted, _deferred = select_non_overlapping(f.fix for f in fixable)
            chosen = {id(fx) for fx in accepted}
            edits = [e for fx in accepted for e in fx.edits]
            updated = apply_edits(current, edits)
            _verify_locality(current, updated, edits)
            round_index = LineIndex(current)
            placing = SourceMap(text, current, history)
            for finding in fixable:
                if id(finding.fix) in chosen:
                    offset = round_index.line_start(finding.line)
                    for earlier in reversed(history):
                        offset = earlier.back(offset)
                    applied.append(
                        AppliedFix(
                            finding.rule,
                            finding.name,
                            finding.fix.tier,
                            finding.fix.description,
                            original_index.line_of(offset),
                            path,
                            finding.fix.owns,
                            finding.fix.requires,
                            placing.edits_in_original(len(history), finding.fix.edits),
                            finding.fix.evidence,
                        )
                    )
            history.append(EditMap(edits))
            current = updated
            try:
                document, findings = analyse(current, path, config, kind, digests, None, repository, repository_path)
            except InputError as exc:
                raise VerificationError(f"the fixed file does not parse ({exc.message})") from None
        else:
            raise VerificationError(f"fixes did not settle after {MAX_ROUNDS} rounds")
        checks: tuple[str, ...] = ()
        note = None
        if history:
            file_kind.verify(_without_removed_comments(original_document, applied, config, kind), document)
            checks, note = _external_check(file_kind, text, current, path, applied, config)
    except VerificationError as exc:
        return FixResult(
            original=text,
            fixed=text,
            findings=original_findings,
            skipped=_skips(original_findings, tiers) + [Skip(f"fixes not written: {exc}", 0, "", path)],
            verification_error=str(exc),
        )
    return FixResult(
        original=text,
        fixed=current,
        findings=findings,
        applied=sorted(applied, key=lambda a: (a.line, a.rule)),
        skipped=_skips(findings, tiers) + ([Skip(note, 0, "", path)] if note else []),
        source_map=SourceMap(text, current, history) if history else None,
        checks=(file_kind.parsed_with, *checks) if history else (),
    )


def _without_removed_comments(original_document, applied: list[AppliedFix], config: Config, kind: str):
    """The original as the kind's checks should compare it: less the pragma comments fixes removed on purpose."""
    editors = {rule.id for rule in rules_for(kind) if getattr(rule, "edits_comments", False)}
    edits = [edit for fix in applied if fix.rule in editors for edit in fix.edits]
    if not edits:
        return original_document
    try:
        return kind_named(kind).parse(apply_edits(original_document.text, edits), original_document.path)
    except InputError as exc:
        raise VerificationError(f"the file without its unused suppressions does not parse ({exc.message})") from None


def _external_check(file_kind: FileKind, original: str, fixed: str, path: str, applied, config: Config):
    """Run the kind's own program on the result (Docker Compose for compose files), if it has one.

    Returns (what checked it, a note saying why no check ran); raises VerificationError if it rejects the fixes.
    """
    if not file_kind.has_external_check(config):
        return (), None
    error, note = file_kind.external_check(original, fixed, path, applied)
    if error:
        raise VerificationError(error)
    return ((file_kind.external_check_name,) if note is None else ()), note


def skips_for(findings: list[Finding], config: Config) -> list[Skip]:
    return _skips(findings, allowed_tiers(config))


def _skips(findings: list[Finding], tiers: set[Tier]) -> list[Skip]:
    out = []
    for f in findings:
        if f.fix_unavailable:
            out.append(Skip(f.fix_unavailable, f.line, f.rule, f.path))
        elif f.fix is not None and f.fix.tier not in tiers:
            out.append(Skip("behaviour-changing fix: apply with --unsafe-fixes", f.line, f.rule, f.path))
    return out


def _verify_locality(before: str, after: str, edits: list[Edit]) -> None:
    """Every character outside the edits is where it was, shifted only by the edits before it."""
    pos = shift = 0
    for edit in [*sorted(edits), None]:
        stop = len(before) if edit is None else edit.start
        kept, now = before[pos:stop], after[pos + shift : stop + shift]
        if now != kept or (edit is None and len(after) != len(before) + shift):
            first = next(
                (i for i, (a, b) in enumerate(zip(kept, now, strict=False)) if a != b), min(len(kept), len(now))
            )
            raise VerificationError(f"line {LineIndex(before).line_of(pos + first)} changed outside any fix")
        if edit is None:
            return
        start = edit.start + shift
        if after[start : start + len(edit.content)] != edit.content:
            raise VerificationError(
                f"the edit on line {LineIndex(before).line_of(edit.start)} was not applied as planned"
            )
        shift += len(edit.content) - (edit.end - edit.start)
        pos = edit.end


def image_references(text: str, path: str, config: Config, kind: str | None = None) -> set[str]:
    """Keys of the image references a run would pin (for the registry pre-pass at the edge)."""
    return parsed_image_references(text, path, config, kind)[0]


def parsed_image_references(text: str, path: str, config: Config, kind: str | None = None):
    """(keys of the image references a run would pin, the parsed document or None when no rule pins).

    The edge resolves the keys before the run and may hand the document back to `check_text` or
    `fix_text`, so the file is parsed once.
    """
    from hardener import pinning

    kind = kind or kind_for(path, config)
    if not any(rule.pins_images for rule in selected_rules(config, kind)):
        return set(), None
    file_kind = kind_named(kind)
    document = file_kind.parse(text, path)
    return {t.key for t in file_kind.pin_targets(document) if pinning.needs_resolution(t)}, document
