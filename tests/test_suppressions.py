"""Suppression pragmas are checked too: unknown codes are reported, unused ones listed and removed on request.

Like ruff's RUF102 and RUF100: HD001 is on by default, HD002 only when selected. A code is unused only
when every rule it names ran in this run.
"""

from __future__ import annotations

import pytest

from hardener import Config, check_text, fix_text

UNUSED = Config(select=("HD002",))


def rules(text: str, path: str = "Dockerfile", config: Config | None = None) -> list[str]:
    return [f.rule for f in check_text(text, path, config)]


@pytest.mark.parametrize(
    "text,path",
    [
        ("# hardener: ignore=HD999\nFROM debian:12\n", "Dockerfile"),
        ("# hardener: global ignore=not-a-rule\nFROM debian:12\n", "Dockerfile"),
        ("services:\n  web:\n    image: nginx:1.27  # hardener: ignore=HD299\n", "compose.yaml"),
        ('import docker\ndocker.from_env().containers.run("x")  # hardener: ignore=sdk-privileged\n', "app.py"),
    ],
)
def test_an_unknown_code_is_reported_by_default_in_every_kind(text, path):
    findings = [f for f in check_text(text, path) if f.rule == "HD001"]
    assert len(findings) == 1 and findings[0].fix is None


def test_ids_prefixes_names_all_and_hadolint_codes_are_not_unknown():
    for pragma in ("ignore=HD101,HD1,sudo-in-run", "global ignore=ALL", "ignore=HD207"):
        assert "HD001" not in rules(f"# hardener: {pragma}\nFROM debian:12\n")
    assert "HD001" not in rules("# hadolint ignore=DL9999,SC0000\nFROM debian:12\n")


def test_unused_suppressions_are_off_unless_selected():
    text = "# hardener: ignore=HD207\nFROM debian:12\n"
    assert "HD002" not in rules(text)
    assert "HD002" in rules(text, config=UNUSED)
    assert "HD002" in rules(text, config=Config(select=("ALL",)))


def test_a_code_that_silenced_a_finding_is_used():
    text = "# hardener: ignore=HD101\nFROM debian:12\nCOPY a /a\n"
    assert "HD002" not in rules(text, config=Config(select=("HD101", "HD002")))


def test_a_suppression_for_a_rule_that_did_not_run_is_not_called_unused():
    # HD101 is not selected: whether the pragma is needed cannot be known.
    assert rules("# hardener: ignore=HD101\nFROM debian:12\n", config=UNUSED) == []


def test_hadolint_pragmas_are_never_called_unused():
    assert rules("# hadolint ignore=DL3007\nFROM debian:12\n", config=Config(select=("HD002", "HD106"))) == []


def test_the_fix_removes_only_the_unused_code_and_a_second_run_changes_nothing():
    text = "FROM debian:12\n# hardener: ignore=HD105, HD108 -- ADD on purpose\nADD app.py /a\n"
    config = Config(select=("HD002", "HD105", "HD108"))
    result = fix_text(text, "Dockerfile", config)
    assert result.fixed == "FROM debian:12\n# hardener: ignore=HD105 -- ADD on purpose\nADD app.py /a\n"
    assert fix_text(result.fixed, "Dockerfile", config).fixed == result.fixed


@pytest.mark.parametrize(
    "text,path,fixed",
    [
        (
            "FROM debian:12\n# hardener: ignore=HD108\nCOPY a /a\n",
            "Dockerfile",
            "FROM debian:12\nCOPY a /a\n",
        ),
        (
            "services:\n  web:\n    # hardener: ignore=HD210\n    image: nginx:1.27\n",
            "compose.yaml",
            "services:\n  web:\n    image: nginx:1.27\n",
        ),
        (
            "services:\n  web:\n    image: nginx:1.27  # hardener: ignore=HD210 -- why\n",
            "compose.yaml",
            "services:\n  web:\n    image: nginx:1.27\n",
        ),
        (
            'import docker\n\n# hardener: ignore=HD310\ndocker.from_env().containers.run("x")\n',
            "app.py",
            'import docker\n\ndocker.from_env().containers.run("x")\n',
        ),
    ],
)
def test_a_comment_with_no_code_left_goes_in_every_kind(text, path, fixed):
    config = Config(select=("HD002", "HD108", "HD210", "HD310"))
    result = fix_text(text, path, config)
    assert result.verification_error is None
    assert result.fixed == fixed
    assert [a.rule for a in result.applied] == ["HD002"]
    assert fix_text(result.fixed, path, config).fixed == result.fixed


def test_the_compose_check_accepts_a_removed_comment(tmp_path, run_cli):
    compose = tmp_path / "compose.yaml"
    compose.write_text("services:\n  web:\n    # hardener: ignore=HD210\n    image: nginx:1.27\n")
    result = run_cli("fix", "--select", "HD002,HD210", str(compose))
    assert result.returncode == 0, result.stdout + result.stderr
    assert compose.read_text() == "services:\n  web:\n    image: nginx:1.27\n"
