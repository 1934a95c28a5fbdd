"""SARIF and GitHub Actions output: schema-valid SARIF, stable fingerprints, escaped workflow commands,
a safe job summary, no secret values anywhere, and --output."""

import json
import re

import pytest

from hardener.discovery import Target
from hardener.model import Finding, Severity, Skip
from hardener.reporters import github
from hardener.runner import FileOutcome, RunReport

from .conftest import ROOT

SCHEMA = ROOT.parent / "shared" / "reference" / "sarif-schema-2.1.0.json"
PINNED = "@sha256:" + "e" * 64
SECRET = "s3cr3t-value"
# Findings at every level, fixes of both tiers, a report-only secret.
DOCKERFILE = (
    f'FROM debian:12{PINNED}\nENV DB_PASSWORD={SECRET}\nRUN apt-get update\nRUN apt-get install curl\nCMD ["curl"]\n'
)
COMPOSE = f"services:\n  db:\n    image: postgres:16{PINNED}\n    environment:\n      DB_PASSWORD: {SECRET}\n"


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode())
    return path


def sarif(run_cli, *args):
    result = run_cli(*args, "--format", "sarif")
    assert result.returncode in (0, 1, 2), result.stderr
    return json.loads(result.stdout)


@pytest.fixture
def validate():
    if not SCHEMA.is_file():
        pytest.skip(f"SARIF schema not found at {SCHEMA}")
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    validator = jsonschema.Draft4Validator(schema, format_checker=jsonschema.FormatChecker())

    def check(document):
        errors = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
        assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:10])

    return check


# (a) the document validates against the OASIS schema and says what code scanning needs


def test_check_sarif_validates_against_the_schema(tmp_path, run_cli, validate):
    write(tmp_path / "Dockerfile", DOCKERFILE)
    write(tmp_path / "compose.yaml", COMPOSE)
    doc = sarif(run_cli, "check", ".")
    validate(doc)
    assert doc["version"] == "2.1.0"
    assert doc["$schema"] == "https://json.schemastore.org/sarif-2.1.0.json"
    (run,) = doc["runs"]
    driver = run["tool"]["driver"]
    from hardener import __version__
    from hardener.rules import ALL_RULES

    assert driver["name"] == "hardener" and driver["version"] == __version__
    assert [r["id"] for r in driver["rules"]] == [r.id for r in ALL_RULES]
    for descriptor, rule in zip(driver["rules"], ALL_RULES, strict=True):
        assert descriptor["shortDescription"]["text"] == rule.summary
        assert descriptor["fullDescription"]["text"] == rule.rationale
        assert rule.fix_kind() in descriptor["help"]["text"] and rule.fix_kind() in descriptor["help"]["markdown"]
        assert all(ref in descriptor["help"]["markdown"] for ref in rule.references)
        props = descriptor["properties"]
        assert props["tags"][:2] == ["security", rule.kind]
        assert props["security-severity"] == {"error": "7.5", "warning": "5.0", "info": "2.0"}[rule.severity.value]
        assert (
            descriptor["defaultConfiguration"]["level"]
            == {"error": "error", "warning": "warning", "info": "note"}[rule.severity.value]
        )
    assert run["automationDetails"]["id"] == "hardener/"
    assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"] == tmp_path.resolve().as_uri() + "/"

    results = run["results"]
    assert {r["ruleId"] for r in results} >= {"HD101", "HD102", "HD103", "HD107", "HD109", "HD201", "HD206"}
    for result in results:
        assert driver["rules"][result["ruleIndex"]]["id"] == result["ruleId"]
        location = result["locations"][0]["physicalLocation"]
        assert location["artifactLocation"]["uriBaseId"] == "%SRCROOT%"
        assert location["artifactLocation"]["uri"] in ("Dockerfile", "compose.yaml")
        assert location["region"]["startLine"] >= 1
        assert re.fullmatch(r"[0-9a-f]{16}:\d+", result["partialFingerprints"]["primaryLocationLineHash"])
    levels = {r["ruleId"]: r["level"] for r in results}
    assert (levels["HD101"], levels["HD102"], levels["HD109"]) == ("error", "warning", "note")

    # A safe fix, located with lines and columns: HD103 adds ` -y` after `install` on line 4.
    (hd103,) = [r for r in results if r["ruleId"] == "HD103"]
    (change,) = hd103["fixes"][0]["artifactChanges"]
    assert change["artifactLocation"] == {"uri": "Dockerfile", "uriBaseId": "%SRCROOT%"}
    (replacement,) = change["replacements"]
    region = replacement["deletedRegion"]
    assert (region["startLine"], region["endLine"]) == (4, 4)
    text = DOCKERFILE.splitlines()[3]
    col = region["startColumn"]
    assert region["endColumn"] >= col
    fixed = text[: col - 1] + replacement["insertedContent"]["text"] + text[region["endColumn"] - 1 :]
    assert fixed.startswith("RUN apt-get install") and "-y" in fixed and "curl" in fixed
    assert "fixes" not in next(r for r in results if r["ruleId"] == "HD107")


def test_fix_diff_sarif_validates_and_carries_the_remaining_fixes(tmp_path, run_cli, validate):
    write(tmp_path / "Dockerfile", DOCKERFILE)
    write(tmp_path / "compose.yaml", COMPOSE)
    doc = sarif(run_cli, "fix", "--diff", ".")
    validate(doc)
    results = doc["runs"][0]["results"]
    rules = {r["ruleId"] for r in results}
    assert not rules & {"HD102", "HD103", "HD201"}  # safe fixes applied in the (unwritten) fixed text
    with_fixes = [r for r in results if "fixes" in r]
    assert {r["ruleId"] for r in with_fixes} >= {"HD101", "HD206"}  # behaviour-changing, not applied
    for r in with_fixes:
        assert r["fixes"][0]["artifactChanges"][0]["replacements"]
        assert "behaviour-changing" in r["fixes"][0]["description"]["text"]
    assert (tmp_path / "Dockerfile").read_text() == DOCKERFILE


def test_every_sarif_rule_links_its_generated_page(tmp_path, run_cli, validate):
    write(tmp_path / "Dockerfile", DOCKERFILE)
    doc = sarif(run_cli, "check", ".")
    validate(doc)
    from hardener.rules import ALL_RULES
    from hardener.rules.docs import pages

    generated = pages()
    page_url = "https://github.com/hardener/hardener/blob/main/docs/rules/"
    for descriptor, rule in zip(doc["runs"][0]["tool"]["driver"]["rules"], ALL_RULES, strict=True):
        uri = descriptor["helpUri"]
        assert uri == page_url + f"{rule.id}.md" == rule.help_uri()
        page = uri.removeprefix(page_url)
        assert page in generated and (ROOT / "docs" / "rules" / page).is_file()
        assert f"]({uri})" in descriptor["help"]["markdown"]


def test_sarif_paths_are_relative_with_forward_slashes(tmp_path, run_cli, validate):
    write(tmp_path / "svc a" / "Dockerfile", DOCKERFILE)
    doc = sarif(run_cli, "check", str(tmp_path / "svc a"))  # given as an absolute path
    validate(doc)
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in doc["runs"][0]["results"]}
    assert uris == {"svc%20a/Dockerfile"}


def test_sarif_reports_input_errors_as_notifications(tmp_path, run_cli, validate):
    write(tmp_path / "compose.yaml", "services: [\n")
    doc = sarif(run_cli, "check", "compose.yaml")
    validate(doc)
    (notification,) = doc["runs"][0]["invocations"][0]["toolExecutionNotifications"]
    assert notification["level"] == "error"


# (b) fingerprints


def _fingerprints(doc):
    return sorted((r["ruleId"], r["partialFingerprints"]["primaryLocationLineHash"]) for r in doc["runs"][0]["results"])


def test_fingerprints_survive_a_line_added_above(tmp_path, run_cli):
    target = write(tmp_path / "Dockerfile", DOCKERFILE)
    before = sarif(run_cli, "check", ".")
    target.write_text("# built by CI\n# (another comment)\n" + DOCKERFILE)
    after = sarif(run_cli, "check", ".")
    assert _fingerprints(before) == _fingerprints(after)
    lines = lambda doc: sorted(  # noqa: E731
        (r["ruleId"], r["locations"][0]["physicalLocation"]["region"]["startLine"]) for r in doc["runs"][0]["results"]
    )
    assert [(rule, line + 2) for rule, line in lines(before)] == lines(after)
    # ...and tell apart the same finding on two identical lines.
    target.write_text(DOCKERFILE + "RUN apt-get install curl\n")
    hashes = [h for rule, h in _fingerprints(sarif(run_cli, "check", ".")) if rule == "HD103"]
    assert len(hashes) == 2 and len(set(hashes)) == 2
    assert {h.split(":")[0] for h in hashes} == {hashes[0].split(":")[0]}


def test_fingerprint_changes_with_the_line_but_never_hashes_a_secret(tmp_path, run_cli):
    target = write(tmp_path / "Dockerfile", DOCKERFILE)
    before = dict(_fingerprints(sarif(run_cli, "check", ".")))
    target.write_text(DOCKERFILE.replace("apt-get install curl", "apt-get install wget").replace(SECRET, "guess"))
    after = dict(_fingerprints(sarif(run_cli, "check", ".")))
    assert before["HD103"] != after["HD103"]  # the line itself changed
    assert before["HD107"] == after["HD107"]  # a secret's line is not hashed: its value cannot be guessed back


# (c) GitHub workflow commands


def test_github_escapes_properties_and_data():
    assert github.escape_data("100% done\r\nnext: a,b") == "100%25 done%0D%0Anext: a,b"
    assert github.escape_property("a,b:c%\nd") == "a%2Cb%3Ac%25%0Ad"
    finding = Finding("HD108", "sudo-in-run", "50% of\nlines: a,b", Severity.WARNING, 3, 2, 4, path="x,y:z.Dockerfile")
    line = github.annotation(finding)
    assert line == (
        "::warning file=x%2Cy%3Az.Dockerfile,line=3,col=2,endLine=4,title=HD108 sudo-in-run::50%25 of%0Alines: a,b"
    )
    assert "\n" not in line


def test_github_format_from_the_command_line(tmp_path, run_cli):
    write(tmp_path / "a,b:c.Dockerfile", DOCKERFILE)
    result = run_cli("check", "--format", "github", "a,b:c.Dockerfile")
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert "::error file=a%2Cb%3Ac.Dockerfile,line=1,col=1,endLine=1,title=HD101 root-user::" in result.stdout
    assert any(line.startswith("::warning file=a%2Cb%3Ac.Dockerfile,line=4,") and "HD103" in line for line in lines)
    assert any(line.startswith("::notice ") and "HD109 missing-healthcheck" in line for line in lines)
    assert lines[-1].startswith("Scanned 1 file: ")
    assert all(line.startswith("::") for line in lines[:-1])


def test_github_caps_annotations_per_level(tmp_path, run_cli):
    # 12 secrets (errors) and 13 installs without -y (warnings), pinned and hardened otherwise.
    body = "".join(f"ENV API_TOKEN_{i}=x{i}\n" for i in range(12))
    body += "".join(
        f"RUN apt-get install --no-install-recommends pkg{i} && rm -rf /var/lib/apt/lists/*\n" for i in range(13)
    )
    write(tmp_path / "Dockerfile", f"FROM debian:12{PINNED}\n{body}USER 1000\nHEALTHCHECK CMD true\n")
    result = run_cli("check", "--format", "github", ".")
    lines = result.stdout.splitlines()
    errors = [line for line in lines if line.startswith("::error ")]
    warnings = [line for line in lines if line.startswith("::warning ")]
    assert len(errors) == 10 and len(warnings) == 10
    assert "::notice::2 more errors not shown as annotations; see the job summary or the log below" in lines
    assert "::notice::3 more warnings not shown as annotations; see the job summary or the log below" in lines
    # The rest are still in the log, as plain lines that are not workflow commands.
    assert sum(1 for line in lines if "HD107" in line) == 12
    assert sum(1 for line in lines if "HD103" in line) == 13
    hidden = [line for line in lines if not line.startswith("::")][:-1]
    assert len(hidden) == 5 and all(line.startswith("  HD10") for line in hidden)
    assert lines[-1].startswith("Scanned 1 file: 25 findings")


# (d) the job summary


def _report(findings, skipped=(), text="FROM x\n"):
    outcome = FileOutcome(Target("Dockerfile", "dockerfile"), findings=list(findings), skipped=list(skipped))
    outcome.original = outcome.fixed = text
    return RunReport("check", files=[outcome])


def test_md_escape():
    assert github.md_escape("a|b") == "a\\|b"
    assert github.md_escape("`code`") == "\\`code\\`"
    assert github.md_escape("ping @octocat") == "ping @\u200boctocat"
    assert github.md_escape("<img src=x>\nnext") == "\\<img src=x\\> next"
    assert github.md_escape("a\\|b") == "a\\\\\\|b"


def test_job_summary_escapes_cells():
    finding = Finding("HD108", "sudo-in-run", "runs `sudo` | cc @octocat", Severity.WARNING, 2, path="Dockerfile")
    skip = Skip("kept for @team | reasons", 2, "HD108", "Dockerfile")
    summary = github.job_summary(_report([finding], [skip]))
    assert summary.startswith("## hardener\n")
    assert "| file | line | rule | severity | message | fix |" in summary
    row = next(line for line in summary.splitlines() if "HD108 sudo-in-run" in line)
    assert "runs \\`sudo\\` \\| cc @\u200boctocat" in row
    assert row.count(" | ") == 5  # six cells: the message's pipe does not make a seventh
    assert row.endswith("| report only |")
    assert "kept for @\u200bteam \\| reasons" in summary
    assert "@octocat" not in summary and "@team" not in summary
    assert "| findings | 0 | 0 | 1 |" in summary


def test_job_summary_stays_under_the_limit():
    findings = [
        Finding("HD108", "sudo-in-run", f"finding {i} " + "x" * 200, Severity.WARNING, i + 1, path="Dockerfile")
        for i in range(6000)
    ]
    summary = github.job_summary(_report(findings))
    size = len(summary.encode())
    assert 1024 * 1024 - 2000 < size < 1024 * 1024
    assert re.search(r"_\d+ more findings not shown: the summary is limited to 1 MiB", summary)
    small = github.job_summary(_report(findings[:50]), limit=3000)
    assert len(small.encode()) < 3000 and "more findings not shown" in small


def test_no_secret_value_in_any_format(tmp_path, run_cli, monkeypatch):
    write(tmp_path / "Dockerfile", DOCKERFILE)
    write(tmp_path / "compose.yaml", COMPOSE)
    for fmt in ("text", "json", "sarif", "github"):
        result = run_cli("check", "--format", fmt, ".")
        assert result.returncode == 1, result.stderr
        assert "HD107" in result.stdout or "HD107" in result.stderr
        assert SECRET not in result.stdout + result.stderr, fmt
    # text and json --diff carry the patch, whose context lines are the file's own.
    for fmt in ("sarif", "github"):
        result = run_cli("fix", "--diff", "--format", fmt, ".")
        assert SECRET not in result.stdout + result.stderr, fmt

    from hardener.runner import run

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HARDENER_CACHE_DIR", str(tmp_path / ".cache"))
    summary = github.job_summary(run(["."], "check", offline=True))
    assert "HD107" in summary and "HD206" in summary
    assert SECRET not in summary


# (e) --output


def test_output_writes_the_report_to_a_file(tmp_path, run_cli, validate):
    write(tmp_path / "Dockerfile", DOCKERFILE)
    (tmp_path / "reports").mkdir()
    result = run_cli("check", "--format", "sarif", "--output", "reports/hardener.sarif", ".")
    assert (result.returncode, result.stdout) == (1, "")
    validate(json.loads((tmp_path / "reports" / "hardener.sarif").read_text()))

    result = run_cli("check", "-o", "report.txt", ".")
    assert (result.returncode, result.stdout) == (1, "")
    assert "Dockerfile:4:1: HD103" in (tmp_path / "report.txt").read_text()

    # With --diff the file gets the patch, and the notes still go to standard error.
    result = run_cli("fix", "--diff", "-o", "fix.patch", ".")
    assert result.returncode == 1 and result.stdout == ""
    assert (tmp_path / "fix.patch").read_text().startswith("--- a/Dockerfile\n+++ b/Dockerfile\n")
    assert "would fix" in result.stderr
    assert (tmp_path / "Dockerfile").read_text() == DOCKERFILE


def test_output_to_a_missing_folder_fails_before_fixing(tmp_path, run_cli):
    target = write(tmp_path / "Dockerfile", DOCKERFILE)
    result = run_cli("fix", "--format", "json", "-o", "missing/report.json", ".")
    assert result.returncode == 2
    assert "cannot write missing/report.json" in result.stderr
    assert target.read_text() == DOCKERFILE


# (f) file names from an untrusted tree: line breaks, workflow commands, escape sequences, bytes not UTF-8

NASTY_NAMES = [b"nl\n::add-mask::x", b"::error file=z::boom", b"esc\x1b[31m", b"bad\xff\xfe", b"a,b:c%d"]


def nasty_tree(root):
    import os

    for name in NASTY_NAMES:
        folder = os.path.join(os.fsencode(root), name)
        os.makedirs(folder)
        with open(os.path.join(folder, b"Dockerfile"), "wb") as fh:
            fh.write(DOCKERFILE.encode())


def test_sarif_for_names_that_are_not_utf8(tmp_path, run_cli, validate):
    nasty_tree(tmp_path)
    result = run_cli("check", "--format", "sarif", ".")
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    document = json.loads(result.stdout)
    validate(document)
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in document["runs"][0]["results"]}
    # Percent-encoded bytes: the file's own name, which a viewer can open.
    assert uris == {
        "nl%0A%3A%3Aadd-mask%3A%3Ax/Dockerfile",
        "%3A%3Aerror%20file%3Dz%3A%3Aboom/Dockerfile",
        "esc%1B%5B31m/Dockerfile",
        "bad%FF%FE/Dockerfile",
        "a%2Cb%3Ac%25d/Dockerfile",
    }
    fingerprints = [r["partialFingerprints"]["primaryLocationLineHash"] for r in document["runs"][0]["results"]]
    assert len(set(fingerprints)) == len(fingerprints)


def test_sarif_when_the_current_folder_is_not_utf8(tmp_path, run_cli, validate):
    import os

    folder = os.path.join(os.fsencode(tmp_path), b"work\xff")
    os.makedirs(folder)
    with open(os.path.join(folder, b"Dockerfile"), "wb") as fh:
        fh.write(DOCKERFILE.encode())
    result = run_cli("check", "--format", "sarif", ".", cwd=os.fsdecode(folder))
    assert result.returncode == 1, result.stderr
    document = json.loads(result.stdout)
    validate(document)
    assert document["runs"][0]["originalUriBaseIds"]["%SRCROOT%"]["uri"].endswith("/work%FF/")


def test_github_annotations_for_untrusted_names(tmp_path, run_cli):
    nasty_tree(tmp_path)
    # Enough findings that some go to plain log lines past the annotation cap.
    result = run_cli("check", "--format", "github", ".")
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    commands = [line for line in lines if line.startswith("::")]
    plain = [line for line in lines if not line.startswith("::")]
    assert commands and plain
    for line in commands:  # a command, its properties (no raw `:` or `,` in a value), then the message
        assert re.fullmatch(r"::(error|warning|notice)( [a-zA-Z]+=[^:,]*(,[a-zA-Z]+=[^:,]*)*)?::[^\x1b]*", line), line
    # A file property holds escaped text only: its name's colons and commas cannot end or add properties.
    assert any("file=%3A%3Aerror file=z%3A%3Aboom/Dockerfile," in line for line in commands)
    assert any("file=a%2Cb%3Ac%25d/Dockerfile," in line for line in commands)
    assert any("file=nl\\x0a%3A%3Aadd-mask%3A%3Ax/Dockerfile," in line for line in commands)
    assert any("file=bad\\xff\\xfe/Dockerfile," in line for line in commands)
    for line in plain:  # plain log lines are not workflow commands either
        assert not line.lstrip().startswith("::") and "\x1b" not in line and "##[" not in line


def test_github_annotation_message_shows_control_characters():
    finding = Finding("HD108", "sudo-in-run", "uses \x1b[2J `sudo`", Severity.WARNING, 3, path="Dockerfile")
    assert github.annotation(finding).endswith("::uses \\x1b[2J `sudo`")
    assert github.command("error", "x", file="a\udcffb") == "::error file=a\\xffb::x"
