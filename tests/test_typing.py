"""hardener/ type-checks cleanly with mypy, configured in pyproject.toml ([tool.mypy])."""

from __future__ import annotations

import subprocess
import sys

import pytest

from .conftest import ROOT


def test_mypy_finds_no_errors_in_hardener(tmp_path):
    pytest.importorskip("mypy", reason="mypy is a test dependency: pip install -e '.[test]'")
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--cache-dir", str(tmp_path / "mypy-cache")],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
