"""How the Action starts: a composite action whose steps install hash-locked dependencies into a cached venv and
hand every input to `python -m hardener.github.action` through the environment."""

import os
import re
import subprocess
import sys

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from ruamel.yaml import YAML

from hardener.github.action import Inputs

from .conftest import ROOT

EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
# A valid, non-empty value for inputs whose default is empty or would be refused; others take their default.
SAMPLE_VALUES = {
    "unsafe-fixes": "true",
    "select": "HD101",
    "ignore": "HD102",
    "config": "hardener.toml",
    "token": "token-value",
    "repository": "octo/repo",
    "base-branch": "main",
    "labels": "security",
    "reviewers": "octocat",
    "assignees": "octocat",
    "sarif-file": "hardener.sarif",
}


@pytest.fixture(scope="module")
def spec():
    return YAML(typ="safe").load((ROOT / "action.yml").read_text())


def step(spec, step_id):
    return next(s for s in spec["runs"]["steps"] if s.get("id") == step_id)


def sample(spec, name) -> str:
    default = str(spec["inputs"][name].get("default", ""))
    return SAMPLE_VALUES.get(name) or ("" if "${{" in default else default) or "x"


def evaluate(value, contexts: dict[str, str]) -> str:
    """Replace each `${{ expr }}` as the runner would, for the plain context lookups action.yml uses."""
    return EXPRESSION.sub(lambda m: contexts[m.group(1)], str(value))


class RecordingEnv(dict):
    """The environment, noting which variables the program actually took a value from."""

    def __init__(self, *args):
        super().__init__(*args)
        self.used = set()

    def get(self, key, default=None):
        if dict.get(self, key):
            self.used.add(key)
        return super().get(key, default)


def test_the_action_is_composite_and_runs_the_action_module_in_the_workspace(spec):
    assert spec["runs"]["using"] == "composite"
    run = step(spec, "run")
    assert run["run"].strip() == '"$VENV/bin/python" -m hardener.github.action'
    assert run["working-directory"] == "${{ github.workspace }}"
    assert run["env"]["PYTHONSAFEPATH"] == "1" and run["env"]["PYTHONPATH"] == "${{ github.action_path }}"


def test_every_input_reaches_the_program_under_the_name_it_reads(spec):
    env = step(spec, "run")["env"]
    passed = {
        m.group(1): name for name, value in env.items() if (m := re.fullmatch(r"\$\{\{ inputs\.([\w-]+) \}\}", value))
    }
    missing = [
        f"INPUT_{key.upper().replace('-', '_')}: ${{{{ inputs.{key} }}}}" for key in spec["inputs"] if key not in passed
    ]
    assert not missing, "add to the run step's env:\n" + "\n".join(missing)
    # Docker actions get INPUT_UNSAFE-FIXES; a composite step's env names cannot hold the hyphen.
    assert all(name == f"INPUT_{key.upper().replace('-', '_')}" for key, name in passed.items())

    program_env = RecordingEnv({name: sample(spec, key) for key, name in passed.items()})
    Inputs.from_env(program_env)
    assert program_env.used == set(passed.values()), "inputs the program never reads"


def test_every_output_is_mapped_from_the_step_that_writes_it(spec):
    assert spec["outputs"], "the Action declares outputs"
    for name, output in spec["outputs"].items():
        assert output.get("value") == f"${{{{ steps.run.outputs.{name} }}}}", name


def test_no_run_script_splices_an_expression(spec):
    scripts = [s["run"] for s in spec["runs"]["steps"] if "run" in s]
    assert len(scripts) >= 2 and not [script for script in scripts if "${{" in script]


def test_third_party_actions_are_pinned_by_full_commit_sha(spec):
    used = [s["uses"] for s in spec["runs"]["steps"] if "uses" in s]
    assert used and all(re.fullmatch(r"[\w.-]+/[\w.-]+(/[\w.-]+)*@[0-9a-f]{40}", uses) for uses in used), used
    text = (ROOT / "action.yml").read_text()
    assert all(re.search(rf"{re.escape(uses)} # v\d", text) for uses in used), "say which release each SHA is"


def test_dependencies_install_from_hash_locked_files_only_on_a_cache_miss_and_are_saved_at_once(spec):
    steps = spec["runs"]["steps"]
    install = next(s for s in steps if "pip install" in s.get("run", ""))
    restore, save = steps[steps.index(install) - 1], steps[steps.index(install) + 1]
    assert restore["uses"].startswith("actions/cache/restore@") and save["uses"].startswith("actions/cache/save@")
    assert (
        restore["with"]
        == save["with"]
        == {"path": "${{ steps.venv.outputs.path }}", "key": "${{ steps.venv.outputs.key }}"}
    )
    assert install["if"] == save["if"] == f"steps.{restore['id']}.outputs.cache-hit != 'true'"
    assert "--require-hashes" in install["run"] and "--no-deps" in install["run"]
    locks = re.findall(r'"\$GITHUB_ACTION_PATH/(requirements-action[\w-]*\.txt)"', install["run"])
    assert locks == ["requirements-action-build.txt", "requirements-action.txt"]
    assert "--no-build-isolation" in install["run"].splitlines()[-1], "the sdist builds with the pinned backend"
    pinned = {}
    for lock in locks:
        entries = re.split(r"\n(?=\S)", re.sub(r"^#.*\n", "", (ROOT / lock).read_text(), flags=re.M).strip())
        for entry in entries:
            requirement = Requirement(entry.split("\\")[0].strip())
            (pin,) = requirement.specifier
            assert pin.operator == "==" and "--hash=sha256:" in entry, entry
            pinned[canonicalize_name(requirement.name)] = requirement
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    needed = [
        *project["dependencies"],
        *project["optional-dependencies"]["compose"],
        *project["optional-dependencies"]["github"],
    ]
    for line in needed:
        wanted = Requirement(line)
        if wanted.marker and not wanted.marker.evaluate({"python_version": "3.12", "python_full_version": "3.12.0"}):
            continue
        got = pinned.get(canonicalize_name(wanted.name))
        assert got and wanted.specifier.contains(str(next(iter(got.specifier)).version)), f"{line}: not locked"


def test_the_venv_key_names_the_interpreter_and_changes_with_the_locks(spec, tmp_path):
    script = step(spec, "venv")["run"]

    def key(action_path):
        output = tmp_path / "output"
        output.write_text("")
        env = {
            **os.environ,
            "PYTHON": sys.executable,
            "PYTHON_VERSION": "3.12.7",
            "RUNNER_TEMP": str(tmp_path),
            "RUNNER_OS": "Linux",
            "RUNNER_ARCH": "X64",
            "GITHUB_ACTION_PATH": str(action_path),
            "GITHUB_OUTPUT": str(output),
        }
        subprocess.run(["bash", "-e", "-c", script], env=env, check=True)
        values = dict(line.split("=", 1) for line in output.read_text().splitlines())
        assert values["path"] == str(tmp_path / "hardener-venv")
        return values["key"]

    original = key(ROOT)
    assert re.fullmatch(r"hardener-venv-Linux-X64-py3\.12\.7-[0-9a-f]{32}", original)
    changed = tmp_path / "changed"
    changed.mkdir()
    for lock in ("requirements-action-build.txt", "requirements-action.txt"):
        (changed / lock).write_text((ROOT / lock).read_text())
    assert key(changed) == original
    (changed / "requirements-action.txt").write_text((ROOT / "requirements-action.txt").read_text() + "\n")
    assert key(changed) != original


def test_the_run_step_runs_hardener_in_the_workspace_without_letting_it_shadow_modules(spec, tmp_path):
    """A pull request's checkout is the working directory: a `hardener/` folder in it must not run instead."""
    run = step(spec, "run")
    workspace = tmp_path / "workspace"
    shadow = workspace / "hardener" / "github"
    shadow.mkdir(parents=True)
    for package in (workspace / "hardener", shadow):
        (package / "__init__.py").write_text("")
    (shadow / "action.py").write_text("open('SHADOWED', 'w').close()\n")
    (workspace / "Dockerfile").write_text("FROM python:3.12-slim\nRUN apt-get update\n")
    contexts = {
        **{f"inputs.{name}": sample(spec, name) for name in spec["inputs"]},
        "inputs.mode": "check",
        "inputs.select": "",
        "inputs.ignore": "",
        "inputs.config": "",
        "inputs.token": "",
        "github.workspace": str(workspace),
        "github.action_path": str(ROOT),
        "steps.venv.outputs.path": sys.prefix,  # the test venv has hardener's dependencies, as the cached one does
    }
    outputs = tmp_path / "outputs"
    base = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "INPUT_"))},
        "GITHUB_WORKSPACE": str(workspace),
        "GITHUB_OUTPUT": str(outputs),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary"),
        "HARDENER_OFFLINE": "1",
        "HARDENER_CACHE_DIR": str(tmp_path / "cache"),
    }
    env = {**base, **{name: evaluate(value, contexts) for name, value in run["env"].items()}}
    cwd = evaluate(run["working-directory"], contexts)

    result = subprocess.run(["bash", "-e", "-c", run["run"]], env=env, cwd=cwd, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert not (workspace / "SHADOWED").exists()
    assert re.search(r"^findings<<(\S+)\n[1-9]\d*\n\1$", outputs.read_text(), re.M), outputs.read_text()

    # Without PYTHONSAFEPATH, `python -m` puts the workspace first on sys.path and the checkout's module runs.
    del env["PYTHONSAFEPATH"]
    subprocess.run(["bash", "-e", "-c", run["run"]], env=env, cwd=cwd, capture_output=True)
    assert (workspace / "SHADOWED").exists()


def test_the_action_image_does_not_let_the_workspace_shadow_modules():
    text = (ROOT / "Dockerfile").read_text()
    assert text.index("ENV PYTHONSAFEPATH=1") < text.index('ENTRYPOINT ["python", "-m", "hardener.github.action"]')
