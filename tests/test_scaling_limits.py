"""Large and deep inputs: they complete (or get a one-line error), and never reach Python's stack limit.

Time is measured in benchmarks/scaling.py, never asserted here. Deep structures are read under
a recursion limit only a little above the caller's depth: work that recursed once per link of a
chain would fail, work done in loops does not.
"""

from __future__ import annotations

import contextlib
import inspect
import random
import sys

import pytest

from hardener.compose.document import ComposeDocument
from hardener.config import Config
from hardener.dockerfile.document import MAX_HEREDOC_LINES, DockerfileDocument
from hardener.engine import check_text, fix_text
from hardener.model import Edit, Fix, InputError, Tier
from hardener.textedit import EditMap, _overlaps, apply_edits, select_non_overlapping

UNSAFE = Config(unsafe_fixes=True)


@contextlib.contextmanager
def shallow_stack(headroom: int = 250):
    """Allow only `headroom` frames beyond the caller's (enough for any fixed-depth work)."""
    previous = sys.getrecursionlimit()
    sys.setrecursionlimit(len(inspect.stack(0)) + headroom)
    try:
        yield
    finally:
        sys.setrecursionlimit(previous)


def services(n: int) -> str:
    lines = ["services:"]
    for i in range(n):
        lines += [f"  app{i}:", f"    image: nginx:1.{i % 30}", "    ports:", f'      - "{8000 + i % 1000}:80"']
    return "\n".join(lines) + "\n"


# -- size ---------------------------------------------------------------------------------------
def test_8000_services_are_checked_and_fixed():
    text = services(8000)
    findings = check_text(text, "compose.yaml", UNSAFE)
    assert {f.line for f in findings if f.rule == "HD201"} == {2 + 4 * i for i in range(8000)}
    result = fix_text(text, "compose.yaml", Config(select=("HD201",)))
    assert result.verification_error is None
    assert len(result.applied) == 8000
    assert result.fixed.count("no-new-privileges:true") == 8000


def test_8000_dockerfile_instructions_are_checked_and_fixed():
    text = "FROM debian:12\n" + "".join(f"# step {i}\nADD files/{i}.txt /opt/{i}.txt\n" for i in range(8000))
    result = fix_text(text, "Dockerfile", Config(select=("HD105",)))
    assert result.verification_error is None
    assert len(result.applied) == 8000
    assert "ADD " not in result.fixed


# -- deep compose structures --------------------------------------------------------------------
def extends_chain(n: int, long_syntax: bool = False) -> str:
    lines = ["services:", "  app0:", "    image: nginx:1.27"]
    for i in range(1, n):
        parent = f"\n      service: app{i - 1}" if long_syntax else f" app{i - 1}"
        lines += [f"  app{i}:", f"    extends:{parent}"]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("long_syntax", [False, True])
def test_an_extends_chain_of_1500_services_works(long_syntax):
    text = extends_chain(1500, long_syntax)
    with shallow_stack():
        findings = check_text(text, "compose.yaml", UNSAFE)
        result = fix_text(text, "compose.yaml", Config(select=("HD201",)))
    # The settings live in app0: its finding and fix reach every service of the chain.
    assert [f.line for f in findings if f.rule == "HD201"] == [2]
    assert result.verification_error is None
    assert result.fixed.count("no-new-privileges:true") == 1
    document = ComposeDocument(result.fixed)
    last = document.services[-1]
    assert [i.value for i in last.get("security_opt").items] == ["no-new-privileges:true"]
    assert len(document.family(document.services[0])) == 1500


def test_an_extends_cycle_at_the_end_of_a_long_chain_is_not_followed():
    text = extends_chain(1200) + "  loop_a:\n    extends: loop_b\n  loop_b:\n    extends: loop_a\n"
    text = text.replace("  app0:\n    image: nginx:1.27\n", "  app0:\n    extends: loop_a\n    image: nginx:1.27\n")
    with shallow_stack():
        document = ComposeDocument(text)
        assert document.services[-1].base is None and document.services[-2].base is None
        assert document.services[1].get("image").value == "nginx:1.27"
        check_text(text, "compose.yaml", UNSAFE)


def test_a_long_chain_of_merged_anchors_works():
    lines = ["x-base0: &base0", "  image: nginx:1.27"]
    for i in range(1, 600):
        lines += [f"x-base{i}: &base{i}", f"  <<: *base{i - 1}"]
    lines += ["services:", "  web:", "    <<: *base599", "    ports: ['8080:80']"]
    text = "\n".join(lines) + "\n"
    with shallow_stack():
        document = ComposeDocument(text)
        assert document.services[0].get("image").value == "nginx:1.27"
        assert document.sharers(document.anchors["base0"]) == document.services
        assert document.path_of(document.anchors["base0"]) == "x-base0"
        findings = check_text(text, "compose.yaml", UNSAFE)
    assert any(f.rule == "HD201" for f in findings)


# -- compose files hardener does not read ----------------------------------------------------------
@pytest.mark.parametrize(
    "text,line,name",
    [
        ("version: '1'\nweb:\n  image: nginx\ndb:\n  image: postgres\n", 2, "web"),
        ("x-note: 1\napp:\n  build: .\n", 2, "app"),
        ("app: {build: {context: ., dockerfile: Dockerfile.dev}, ports: ['80:80']}\n", 1, "app"),
    ],
)
def test_compose_file_format_v1_is_refused(text, line, name):
    with pytest.raises(InputError) as caught:
        check_text(text, "compose.yaml")
    assert str(caught.value) == (
        f"compose.yaml:{line}: Compose file format v1 (service {name!r} at the top level) is not supported; "
        "put services under `services:`"
    )


@pytest.mark.parametrize(
    "text",
    [
        "networks:\n  front: {}\nvolumes:\n  data: {}\n",
        "x-common: &common\n  restart: always\nsecrets:\n  token:\n    file: ./token\n",
        "services:\n",
        "name: demo\nconfigs:\n  app:\n    file: ./app.conf\n",
        # Other YAML named on the command line is not taken for v1 services.
        "on: push\njobs:\n  build:\n    runs-on: ubuntu-latest\n    steps:\n      - run: make\n",
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\nspec:\n  containers:\n    - image: nginx\n",
    ],
)
def test_override_fragments_without_services_stay_fine(text):
    assert check_text(text, "compose.override.yaml") == []


def test_a_v1_file_on_the_command_line_exits_2_untouched(tmp_path, run_cli):
    path = tmp_path / "docker-compose.yml"
    path.write_text("web:\n  image: nginx\n  privileged: true\n")
    result = run_cli("fix", "--unsafe-fixes", path.name)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stdout.splitlines() if line.startswith("error: ")]
    assert errors == [
        "error: docker-compose.yml:1: Compose file format v1 (service 'web' at the top level) is not supported; "
        "put services under `services:`"
    ]
    assert path.read_text() == "web:\n  image: nginx\n  privileged: true\n"


@pytest.mark.parametrize(
    "text,message",
    [
        ("# nothing here yet\n\n# services: will come\n", "compose.yaml:1: empty file: only comments"),
        ("# a header\n--- # the only document\n# nothing\n", "compose.yaml:2: empty file: only comments and `---`"),
        ("---\n", "compose.yaml:1: empty file: only comments and `---`"),
        (
            "services:\n  a:\n    image: x\n---\nservices:\n  b:\n    image: y\n",
            "compose.yaml:4: more than one YAML document in a compose file (the second starts here): "
            "hardener reads one per file",
        ),
        (
            "services:\n  a:\n    image: x\n...\n--- |\n  text\n",
            "compose.yaml:5: more than one YAML document in a compose file (the second starts here): "
            "hardener reads one per file",
        ),
    ],
)
def test_comment_only_and_multi_document_files_name_file_and_line(text, message):
    with pytest.raises(InputError) as caught:
        ComposeDocument(text, "compose.yaml")
    assert str(caught.value) == message


def test_a_comment_only_compose_file_exits_2_untouched(tmp_path, run_cli):
    path = tmp_path / "compose.yaml"
    path.write_text("# services go here\n")
    result = run_cli("check", path.name)
    assert result.returncode == 2
    assert "error: compose.yaml:1: empty file: only comments" in result.stdout
    assert "StreamStart" not in result.stdout + result.stderr


# -- heredocs ----------------------------------------------------------------------------------------
def heredoc_file(lines: int, marker: str = "<<EOF", end: str = "EOF") -> str:
    body = "".join(f"echo line {i}\n" for i in range(lines))
    return f'FROM debian:12\nRUN apt-get update && \\\n    bash {marker}\n{body}{end}\nCMD ["sh"]\n'


def test_a_heredoc_at_the_limit_is_read():
    document = DockerfileDocument(heredoc_file(MAX_HEREDOC_LINES))
    assert document.instructions[1].heredocs[0].content.count("\n") == MAX_HEREDOC_LINES


@pytest.mark.parametrize("marker,end", [("<<EOF", "EOF"), ("<<-'END'", "\t\tEND"), ('<<"EOF" <<TWO', "EOF\nTWO")])
def test_a_longer_heredoc_is_refused_at_its_line(marker, end):
    with pytest.raises(InputError) as caught:
        DockerfileDocument(heredoc_file(MAX_HEREDOC_LINES + 1, marker, end))
    name = "END" if "END" in marker else "EOF"
    assert str(caught.value) == (
        f"Dockerfile:3: heredoc {name} is {MAX_HEREDOC_LINES + 1:,} lines long, over the "
        f"{MAX_HEREDOC_LINES:,}-line limit (BuildKit's parser slows down quadratically)"
    )


def test_heredoc_look_alikes_do_not_count():
    many = "".join(f"RUN echo {i}\n" for i in range(MAX_HEREDOC_LINES + 10))
    for head in ("# write <<EOF to start a heredoc\n", "RUN cat <<<word\n", "ENV NOTE=<<EOF\n"):
        document = DockerfileDocument("FROM debian:12\n" + head + many)
        assert len(document.instructions) > MAX_HEREDOC_LINES


# -- Dockerfile lookups by name and line --------------------------------------------------------------
def test_stage_lookups_keep_their_meaning():
    document = DockerfileDocument("FROM a AS x\nFROM b AS x\nFROM x AS y\n# note\nRUN true\n")
    first, second, third = document.stages
    assert third.parent is second  # FROM x means the nearest stage above named x
    assert document.stage_named("X") is first
    assert document.comments_for(5) == ("# note",)
    assert document.comments_for(4) == ()


def test_only_global_pragmas_are_read_file_wide():
    text = "# hardener: global ignore=HD105\n# just a note\nFROM debian:12\n# hardener: ignore=HD101\nADD a /a\n"
    document = DockerfileDocument(text)
    assert document.comment_lines == ["# hardener: global ignore=HD105"]
    assert not [f for f in check_text(text, "Dockerfile") if f.rule == "HD105"]


# -- the fix engine's bookkeeping ------------------------------------------------------------------------
def brute_force_selection(fixes):
    accepted, deferred, taken = [], [], []
    for fix in sorted(fixes, key=lambda f: (f.span, f.description)):
        if any(_overlaps(region, span) for region in fix.regions for span in taken):
            deferred.append(fix)
        else:
            accepted.append(fix)
            taken.extend(fix.regions)
    return accepted, deferred


def test_fix_selection_matches_pairwise_comparison():
    rng = random.Random(7)
    for _ in range(400):
        fixes = []
        for i in range(rng.randint(1, 25)):
            edits = []
            for _ in range(rng.randint(1, 3)):
                start = rng.randint(0, 60)
                edits.append(Edit(start, start + rng.choice((0, 0, 1, 2, 5, 12)), "x"))
            scope = None
            if rng.random() < 0.3:
                low = min(e.start for e in edits)
                scope = (low - rng.randint(0, 3), max(e.end for e in edits) + rng.randint(0, 3))
            fixes.append(Fix(Tier.SAFE, tuple(edits), f"fix {i}", scope))
        assert select_non_overlapping(fixes) == brute_force_selection(fixes)


def test_edit_map_finds_every_offset_back():
    rng = random.Random(11)
    for _ in range(200):
        text = "".join(rng.choice("ab\n") for _ in range(40))
        edits, pos = [], 0
        while pos < len(text):
            start = rng.randint(pos, min(len(text), pos + 6))
            end = min(len(text), start + rng.choice((0, 0, 1, 3)))
            edits.append(Edit(start, end, rng.choice(("", "X", "YYY"))))
            pos = end + 1
        edited = apply_edits(text, edits)
        mapping = EditMap(edits)
        for offset in range(len(edited) + 1):
            expected, delta = offset - sum(len(e.content) - (e.end - e.start) for e in edits), 0
            for edit in sorted(edits):  # the definition, edit by edit
                start = edit.start + delta
                if offset < start:
                    expected = offset - delta
                    break
                if offset < start + len(edit.content):
                    expected = edit.start
                    break
                delta += len(edit.content) - (edit.end - edit.start)
            assert mapping.back(offset) == expected


def test_the_cycle_collector_is_switched_back_on_after_every_run():
    import gc

    check_text(services(3), "compose.yaml")
    fix_text(services(3), "compose.yaml")
    with pytest.raises(InputError):
        fix_text("services: [1\n", "compose.yaml")
    assert gc.isenabled()
    gc.disable()
    try:
        check_text(services(3), "compose.yaml")
        assert not gc.isenabled()  # a caller's choice is kept
    finally:
        gc.enable()
