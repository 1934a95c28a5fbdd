"""A short run of the atheris fuzz harness (fuzz/fuzz_hardener.py); the long runs are by hand."""

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from hardener.config import Config
from hardener.engine import fix_text
from hardener.model import InputError

ROOT = Path(__file__).resolve().parent.parent
HARNESS = ROOT / "fuzz" / "fuzz_hardener.py"
SEEDS = ROOT / "fuzz" / "seeds"

needs_atheris = pytest.mark.skipif(
    importlib.util.find_spec("atheris") is None,
    reason="atheris is not installed (pip install atheris; Linux only): fuzzing skipped",
)


@needs_atheris
def test_seeds_decode_to_every_kind():
    seeds = sorted(p for p in SEEDS.iterdir() if p.is_file())
    assert len(seeds) >= 12
    assert {p.read_bytes()[0] % 3 for p in seeds} == {0, 1, 2}


@needs_atheris
def test_a_short_fuzz_run_finds_no_crash(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    args = [
        sys.executable,
        str(HARNESS),
        str(corpus),  # new inputs go here, never into the repository
        str(SEEDS),
        "-max_total_time=20",
        "-max_len=2048",
        "-timeout=10",
        "-rss_limit_mb=2048",
        f"-artifact_prefix={tmp_path}/",
        "-print_final_stats=1",
    ]
    out = subprocess.run(args, cwd=tmp_path, capture_output=True, text=True, timeout=180)
    crashes = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(("crash-", "timeout-", "oom-", "leak-")))
    log = (out.stdout + out.stderr)[-6000:]
    assert out.returncode == 0 and not crashes, f"the fuzzer found a problem ({crashes}):\n{log}"
    assert "Done" in out.stderr or "stat::number_of_executed_units" in out.stderr, log


# Inputs the fuzzer found crashing hardener, kept as regression tests.
FOUND = [
    pytest.param(
        "services: {}\n\x00",
        "compose.yaml",
        id="compose-control-character",
    ),
    pytest.param(
        'import docker\rclient = docker.from_env()\rclient.containers.run("nginx")\n',
        "app.py",
        id="python-bare-carriage-return",
    ),
]


@pytest.mark.parametrize("text,path", FOUND)
def test_inputs_the_fuzzer_found_raise_only_input_error(text, path):
    config = Config(unsafe_fixes=True, ignore=("HD112", "HD207", "HD306"))
    try:
        result = fix_text(text, path, config)
    except InputError:
        return
    assert fix_text(result.fixed, path, config).fixed == result.fixed
