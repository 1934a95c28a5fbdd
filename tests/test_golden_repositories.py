"""Small repositories (Dockerfile, entrypoint script, compose files, Makefile, CI) and the decisions
hardener makes on them: each behaviour-changing fix applied or declined, with the evidence or reason.

Each folder of tests/golden/ is copied to a temporary folder (so that its own files, not this
repository's, are the evidence) and fixed with --unsafe-fixes; the decisions are compared with
tests/golden/<name>.expected. Set HARDENER_UPDATE_GOLDEN=1 to rewrite the expected files.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from hardener.model import Tier
from hardener.rules import rule_by_selector
from hardener.runner import run

GOLDEN = Path(__file__).parent / "golden"
CASES = sorted(p.name for p in GOLDEN.iterdir() if p.is_dir())


def decisions(root: Path) -> str:
    report = run([str(root)], "fix", overrides={"unsafe_fixes": True}, offline=True)
    assert not report.all_errors, report.all_errors
    lines = []
    for outcome in sorted(report.files, key=lambda o: o.target.path):
        path = os.path.relpath(outcome.target.path, root)
        lines.append(f"{path}: {outcome.role}")
        for fix in outcome.applied:
            if fix.tier is Tier.BEHAVIOUR_CHANGING:
                lines.append(f"  fixed {fix.rule} line {fix.line}: {fix.description}")
                lines += [f"    because {fact}" for fact in fix.evidence]
        for skip in outcome.skipped:
            rule = rule_by_selector(skip.rule) if skip.rule else None
            if rule is not None and rule.tier is Tier.BEHAVIOUR_CHANGING:
                lines.append(f"  kept {skip.rule} line {skip.line}: {skip.reason}")
    return "\n".join(lines).replace(str(root), "<repo>") + "\n"


@pytest.mark.parametrize("case", CASES)
def test_golden_repository_decisions(case, tmp_path):
    root = tmp_path / case
    shutil.copytree(GOLDEN / case, root)
    got = decisions(root)
    expected_file = GOLDEN / f"{case}.expected"
    if os.environ.get("HARDENER_UPDATE_GOLDEN") == "1":
        expected_file.write_text(got)
    assert got == expected_file.read_text()
