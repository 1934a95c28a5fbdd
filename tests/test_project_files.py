"""The Action's own files: the Dockerfile follows the project's rules, action.yml matches the code."""

import re

import dockerfile
from ruamel.yaml import YAML

from .conftest import ROOT


def test_the_action_dockerfile_passes_hardener_check(run_cli):
    result = run_cli("check", "--offline", ROOT / "Dockerfile")
    assert result.returncode == 0, result.stdout


def test_the_action_dockerfile_is_multi_stage_pinned_and_explains_its_suppressions():
    text = (ROOT / "Dockerfile").read_text()
    froms = [c for c in dockerfile.parse_string(text) if c.cmd.upper() == "FROM"]
    assert len(froms) >= 2 and all(re.search(r"@sha256:[0-9a-f]{64}", c.value[0]) for c in froms)
    suppressions = re.findall(r"^# hardener: ignore=(\S+) -- (.+)$", text, re.M)
    assert {rule for rule, _ in suppressions} == {"HD101", "HD109"} and all(len(why) > 20 for _, why in suppressions)


def test_action_inputs_and_outputs_match_the_code():
    spec = YAML(typ="safe").load((ROOT / "action.yml").read_text())
    source = (ROOT / "hardener" / "github" / "action.py").read_text()
    read = set(re.findall(r'(?<!\.)(?:get|selectors)\("([a-z-]+)"\)', source))
    written = set(re.findall(r'set_output\("([a-z-]+)"', source))
    assert set(spec["inputs"]) == read
    assert set(spec["outputs"]) == written
    assert spec["runs"]["using"] == "composite"  # its steps: tests/test_action_startup.py
    assert all(v.get("description") for v in spec["inputs"].values())
