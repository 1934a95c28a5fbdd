import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus"


@pytest.fixture
def run_cli(tmp_path):
    """Run `python -m hardener ...` in a subprocess, as a user would."""

    def run(*args, cwd=None, input=None, env=None):
        # Hermetic by default: no registry traffic, and a cache of the test's own.
        env = {
            **os.environ,
            "NO_COLOR": "1",
            "HARDENER_OFFLINE": "1",
            "HARDENER_CACHE_DIR": str(tmp_path / ".cache"),
            **(env or {}),
        }
        return subprocess.run(
            [sys.executable, "-m", "hardener", *map(str, args)],
            cwd=cwd or tmp_path,
            capture_output=True,
            text=True,
            env=env,
            input=input,
        )

    return run
