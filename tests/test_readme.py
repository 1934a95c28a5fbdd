"""The README stays true: its rules table matches the code, and its commands exist."""

import re

from hardener.rules import ALL_RULES

from .conftest import ROOT

README = (ROOT / "README.md").read_text()


def test_rules_table_matches_the_rules():
    rows = re.findall(r"^\| (HD\d+) \| ([a-z-]+) \| ([a-z -]+) \|", README, re.M)
    assert rows == [(r.id, r.name, r.fix_kind()) for r in ALL_RULES]


def test_ci_runs_the_readme_test_command():
    command = re.search(r"installs and runs the whole test suite:\n\n```sh\n(.+)\n```", README).group(1)
    assert command in (ROOT / ".ci" / "run").read_text()


def test_documented_settings_exist():
    from dataclasses import fields

    from hardener.config import _DERIVED, Config

    block = README.split("```toml\n[tool.hardener]\n", 1)[1].split("```", 1)[0]
    documented = set(re.findall(r"^([a-z-]+) =", block, re.M)) | set(
        re.findall(r"^\[tool\.hardener\.([a-z-]+)\]", block, re.M)
    )
    assert documented == {f.name.replace("_", "-") for f in fields(Config) if f.name not in _DERIVED}


def test_documented_settings_example_loads():
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib

    from hardener.config import config_from_mapping

    block = README.split("```toml\n", 1)[1].split("```", 1)[0]
    config = config_from_mapping(tomllib.loads(block)["tool"]["hardener"], "README.md")
    assert config.image_capabilities == (("ghcr.io/acme/api", ("NET_BIND_SERVICE",)),)


def test_action_inputs_and_outputs_are_documented():
    from ruamel.yaml import YAML

    spec = YAML(typ="safe").load((ROOT / "action.yml").read_text())
    section = README.split("## GitHub Action", 1)[1].split("\n## ", 1)[0]
    inputs = table_names(section.split("**Inputs**", 1)[1].split("**Outputs**", 1)[0])
    outputs = table_names(section.split("**Outputs**", 1)[1])
    assert inputs == set(spec["inputs"])
    assert outputs == set(spec["outputs"])


def table_names(block: str) -> set[str]:
    """Names in the first column of a Markdown table (a cell may name several: `a`, `b`)."""
    names = set()
    for row in re.findall(r"^\| (`[^|]+`) \|", block, re.M):
        names |= set(re.findall(r"`([a-z-]+)`", row))
    return names
