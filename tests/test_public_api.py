"""The public API: what `import hardener` offers, typed, documented and light to import."""

from __future__ import annotations

import doctest
import inspect
import subprocess
import sys
import typing

import pytest

import hardener


def test_the_module_docstring_example_runs():
    failures, tried = doctest.testmod(hardener, report=True)
    assert tried >= 1 and failures == 0


@pytest.mark.parametrize("name", hardener.__all__)
def test_every_public_name_resolves_and_is_documented(name):
    value = getattr(hardener, name)
    if name != "__version__":
        assert inspect.getdoc(value), name


def test_the_functions_are_fully_annotated():
    for function in (hardener.check_text, hardener.fix_text):
        hints = typing.get_type_hints(function, vars(hardener) | {n: getattr(hardener, n) for n in hardener.__all__})
        assert set(hints) == {"text", "path", "config", "kind", "return"}, function


def test_importing_hardener_loads_no_parser():
    code = "import sys, hardener; hardener.Config; print(sorted(m for m in sys.modules if m.startswith(('hardener.', 'dockerfile', 'libcst', 'yaml', 'ruamel'))))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "['hardener.config', 'hardener.model']"


def test_kind_is_chosen_by_path_or_by_name():
    compose = "services:\n  web:\n    image: nginx:1.27\n"
    by_path = hardener.check_text(compose, "stack/compose.yaml")
    by_kind = hardener.check_text(compose, "stack/anything", kind="compose")
    assert [f.rule for f in by_path] == [f.rule for f in by_kind] and by_path
    assert all(isinstance(f, hardener.Finding) for f in by_path)


def test_fix_text_returns_a_fix_result_with_edits_in_the_original():
    text = "FROM debian:12\nADD app.py /app/\n"
    result = hardener.fix_text(text, config=hardener.Config(select=("HD105",)))
    assert isinstance(result, hardener.FixResult) and result.fixed == "FROM debian:12\nCOPY app.py /app/\n"
    (applied,) = result.applied
    assert applied.tier is hardener.Tier.SAFE
    assert [text[e.start : e.end] for e in applied.edits] == ["ADD"]


def test_bad_input_raises_input_error_with_its_line():
    with pytest.raises(hardener.InputError) as error:
        hardener.check_text("services:\n  web: [\n", "compose.yaml")
    assert error.value.line >= 2
