"""Every rule's own examples run as tests (valid: no finding; invalid: finding and fix)."""

import pytest

from hardener.config import Config
from hardener.engine import check_text, fix_text
from hardener.rules import ALL_RULES, examples_by_kind


def _params(which: int, label: str) -> list:
    """(rule, kind, example) for every example; a rule of every kind has some in each kind's syntax."""
    params = []
    for rule in ALL_RULES:
        examples = examples_by_kind(rule)
        for kind, pair in examples.items():
            prefix = f"{rule.id}-{kind}" if len(examples) > 1 else rule.id
            params += [pytest.param(rule, kind, ex, id=f"{prefix}-{label}-{i}") for i, ex in enumerate(pair[which])]
    return params


VALID = _params(0, "valid")
INVALID = _params(1, "invalid")


PATHS = {"dockerfile": "Dockerfile", "compose": "compose.yaml", "python": "start.py"}


def _digests(example):
    from hardener.pinning import Resolution, reference_key

    index = "application/vnd.oci.image.index.v1+json"
    return {reference_key(r): Resolution(reference_key(r), d, index) for r, d in example.digests}


def only(rule, **kw):
    return Config(select=(rule.id,), **kw)


def _where(example, kind):
    """(path, repository) an example is read in: its own path and the other files it names, if any."""
    from hardener.evidence.repository import Repository

    path = example.path or PATHS[kind]
    files = dict(example.files)
    files[path] = example.before
    return path, Repository(files, known=bool(example.files))


@pytest.mark.parametrize("rule,kind,source", VALID)
def test_valid_examples_have_no_finding(rule, kind, source):
    assert check_text(source, PATHS[kind], only(rule)) == []


@pytest.mark.parametrize("rule,kind,example", INVALID)
def test_invalid_examples_are_found(rule, kind, example):
    path, repository = _where(example, kind)
    findings = check_text(example.before, path, only(rule, unsafe_fixes=True), repository=repository)
    assert findings and all(f.rule == rule.id for f in findings)
    if example.reason:
        said = [f.fix_unavailable or "" for f in findings] + [" ".join(f.evidence) for f in findings]
        assert any(example.reason in text for text in said), said


@pytest.mark.parametrize("rule,kind,example", INVALID)
def test_invalid_examples_fix_as_documented(rule, kind, example):
    # Each example shows its own rule's fix, behaviour-changing ones included.
    digests = _digests(example)
    path, repository = _where(example, kind)
    config = only(rule, unsafe_fixes=True)
    result = fix_text(example.before, path, config, digests=digests, repository=repository)
    expected = example.before if example.after is None else example.after
    assert result.verification_error is None
    assert result.fixed == expected
    again = fix_text(result.fixed, path, config, digests=digests, repository=repository)
    assert again.fixed == result.fixed, "a second run must change nothing"


@pytest.mark.parametrize("rule", ALL_RULES, ids=lambda r: r.id)
def test_rule_metadata_is_complete(rule):
    assert rule.id.startswith("HD") and rule.name == rule.name.lower() and " " not in rule.name
    assert rule.summary and len(rule.rationale) > 60
    assert rule.references, "cite hadolint / CIS Docker Benchmark v1.6 ids"
    if rule.tier is not None:
        assert any(ex.after is not None for ex in rule.invalid), "a fixable rule shows its fix"


def test_rule_ids_and_names_are_unique():
    assert len({r.id for r in ALL_RULES}) == len(ALL_RULES)
    assert len({r.name for r in ALL_RULES}) == len(ALL_RULES)


def test_every_rule_module_holds_one_rule_of_its_own_kind():
    import importlib
    import pkgutil

    from hardener.kinds import all_kinds

    for kind in all_kinds():
        package = importlib.import_module(kind.rules_package)
        modules = {m.name for m in pkgutil.iter_modules(package.__path__)}
        found = [r for r in ALL_RULES if r.__module__.startswith(kind.rules_package + ".")]
        assert sorted(r.__module__.rsplit(".", 1)[-1] for r in found) == sorted(modules)
        assert {r.kind for r in found} == {kind.name}


def test_rules_of_every_kind_join_each_kind_and_show_examples_in_each():
    import importlib
    import pkgutil

    from hardener.kinds import KIND_MODULES
    from hardener.rules import COMMON_RULES_PACKAGE, rules_for
    from hardener.rules.common import EVERY_KIND

    package = importlib.import_module(COMMON_RULES_PACKAGE)
    modules = {m.name for m in pkgutil.iter_modules(package.__path__)}
    common = [r for r in ALL_RULES if r.__module__.startswith(COMMON_RULES_PACKAGE + ".")]
    assert sorted(r.__module__.rsplit(".", 1)[-1] for r in common) == sorted(modules)
    for rule in common:
        assert rule.kind == EVERY_KIND and rule.id.startswith("HD0")
        assert all(rule in rules_for(kind) for kind in KIND_MODULES)
        examples = examples_by_kind(rule)
        assert set(examples) == set(KIND_MODULES) and examples["dockerfile"] == (rule.valid, rule.invalid)


def test_rules_are_listed_in_id_order():
    assert [r.id for r in ALL_RULES] == sorted(r.id for r in ALL_RULES)


def test_a_dockerfile_run_loads_no_compose_or_python_rule():
    import subprocess
    import sys

    code = (
        "import sys\nfrom hardener.engine import check_text\ncheck_text('FROM scratch\\n')\n"
        "print(sorted(m for m in sys.modules if m.startswith(('hardener.compose.rules.', 'hardener.python.rules.'))))"
    )
    assert (
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "[]"
    )
