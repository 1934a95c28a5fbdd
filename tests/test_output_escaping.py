"""Every value that reaches output is escaped for its format.

File names come from untrusted pull requests: they may hold line breaks, GitHub workflow commands (`::`
at the start of a line, `##[` anywhere), terminal escape sequences, Markdown that would break out of a
code span or render HTML, links or mentions, and bytes that are not UTF-8. Each format is run on a real
tree of such names: text (terminal and CI log), JSON, the patch `fix --diff` prints, the job summary and
the pull request's description. SARIF and workflow annotations are in test_reporters_sarif_github.py.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys

import pytest

from hardener.reporters import escape

DOCKERFILE = b"FROM debian:12\nRUN apt-get update\nRUN apt-get install curl\n"
# Folder names, as bytes: what a pull request can commit.
NASTY = [
    b"nl\n::add-mask::masked",
    b"::error file=z::injected",
    b"  ::warning::indented",
    b"old ##[error]legacy",
    b"esc\x1b[2J\x1b]0;title\x07",
    b"bad\xff\xfe",
    b"tick`code``<img src=x onerror=alert(1)>|cell",
    b"link [x](https:\x2f\x2fevil.example) @octocat www.evil.example #1",
    b"bidi\xe2\x80\xaeevil",
]


def make_tree(root):
    for name in NASTY:
        folder = os.path.join(os.fsencode(root), name)
        os.makedirs(folder)
        with open(os.path.join(folder, b"Dockerfile"), "wb") as fh:
            fh.write(DOCKERFILE)


def run_bytes(*args, cwd, env=None):
    """The CLI's raw output: no decoding, so nothing is hidden by the test's own locale."""
    base = {k: v for k, v in os.environ.items() if k != "GITHUB_ACTIONS"}  # as on a workstation, unless asked
    env = {**base, "NO_COLOR": "1", "HARDENER_OFFLINE": "1", "HARDENER_CACHE_DIR": str(cwd / ".cache"), **(env or {})}
    return subprocess.run([sys.executable, "-m", "hardener", *args], cwd=cwd, capture_output=True, env=env)


def assert_log_safe(data: bytes) -> str:
    """Output a terminal or a GitHub Actions log can show: UTF-8, no control bytes, no workflow commands."""
    text = data.decode("utf-8")  # strict: no undecodable bytes reach output
    assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text
    for line in text.splitlines():
        assert not line.lstrip().startswith("::"), line
        assert "##[" not in line, line
        assert all(ch == "\t" or ch >= " " for ch in line), repr(line)
    return text


def test_text_output_shows_every_name_on_one_line(tmp_path):
    make_tree(tmp_path)
    result = run_bytes("check", ".", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    text = assert_log_safe(result.stdout)
    assert result.stderr == b""
    # Each name is recognisable, its bytes shown as escapes.
    assert "nl\\x0a\\x3a:add-mask::masked/Dockerfile:2:1: HD102" not in text  # not at a line start: not escaped
    assert "nl\\x0a::add-mask::masked/Dockerfile:2:1: HD102" in text
    assert "\\x3a:error file=z::injected/Dockerfile:2:1: HD102" in text
    assert "bad\\xff\\xfe/Dockerfile:2:1: HD102" in text
    assert "esc\\x1b[2J\\x1b]0;title\\x07/Dockerfile" in text
    assert "old #\\x23[error]legacy/Dockerfile" in text
    assert "bidi\\u202eevil/Dockerfile" in text
    # Every finding of every file is there: one line each.
    assert text.count(": HD102 ") == len(NASTY)


def test_fix_output_and_skipped_lines_are_escaped(tmp_path):
    make_tree(tmp_path)
    result = run_bytes("fix", "--diff", "--format", "text", ".", cwd=tmp_path)
    assert result.returncode == 1
    notes = assert_log_safe(result.stderr)
    assert notes.count(" HD102 would fix: ") == len(NASTY)
    assert "  \\x3a:error file=z::injected/Dockerfile:1: HD101 " in notes  # a skipped item, indented


def test_json_output_is_valid_utf8_json_for_any_name(tmp_path):
    make_tree(tmp_path)
    result = run_bytes("check", "--format", "json", ".", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert b"##[" not in result.stdout
    document = json.loads(result.stdout.decode("utf-8"))
    paths = {f["path"] for f in document["files"]}
    # Names as found, except bytes that are not UTF-8, which read \xNN.
    assert "./nl\n::add-mask::masked/Dockerfile" in paths or "nl\n::add-mask::masked/Dockerfile" in paths
    assert any(p.endswith("bad\\xff\\xfe/Dockerfile") for p in paths)
    assert any(p.endswith("old ##[error]legacy/Dockerfile") for p in paths)
    json.dumps(document).encode("utf-8")  # no lone surrogates


def test_patch_names_are_quoted_as_git_quotes_them_and_the_patch_applies(tmp_path):
    make_tree(tmp_path)
    subprocess.run(["git", "init", "-q", "."], cwd=tmp_path, check=True)
    result = run_bytes("fix", "--diff", ".", cwd=tmp_path)
    assert result.returncode == 1
    headers = [line for line in result.stdout.split(b"\n") if line.startswith((b"--- ", b"+++ "))]
    assert len(headers) == 2 * len(NASTY)
    assert b'--- "a/nl\\n::add-mask::masked/Dockerfile"' in headers
    assert b'--- "a/bad\\377\\376/Dockerfile"' in headers
    assert b'+++ "b/esc\\033[2J\\033]0;title\\a/Dockerfile"' in headers
    subprocess.run(["git", "apply", "-"], cwd=tmp_path, input=result.stdout, check=True)
    fixed = (tmp_path / "::error file=z::injected" / "Dockerfile").read_bytes()
    assert b"apt-get update && \\\n" in fixed
    assert (tmp_path.joinpath(os.fsdecode(b"bad\xff\xfe"), "Dockerfile")).read_bytes() == fixed


def test_patch_in_a_github_actions_log_cannot_run_commands(tmp_path):
    # A file's own line that is a workflow command appears in the patch as context.
    (tmp_path / "Dockerfile").write_bytes(
        b"FROM debian:12\nRUN apt-get update\nRUN apt-get install curl \\\n  ::add-mask::x\n"
    )
    subprocess.run(["git", "init", "-q", "."], cwd=tmp_path, check=True)
    result = run_bytes("fix", "--diff", ".", cwd=tmp_path, env={"GITHUB_ACTIONS": "true"})
    lines = result.stdout.decode().splitlines()
    token = lines[0].removeprefix("::stop-commands::")
    assert lines[0].startswith("::stop-commands::") and len(token) == 32
    assert lines[-1] == f"::{token}::"
    assert any(line.lstrip(" +-").startswith("::add-mask::x") for line in lines[1:-1])
    # Still a patch git applies.
    subprocess.run(["git", "apply", "-"], cwd=tmp_path, input=result.stdout, check=True)
    # Outside GitHub Actions the patch is exactly the diff.
    (tmp_path / "Dockerfile").write_bytes(b"FROM debian:12\nRUN apt-get update\nRUN apt-get install curl\n")
    plain = run_bytes("fix", "--diff", ".", cwd=tmp_path)
    assert plain.stdout.startswith(b"--- a/Dockerfile\n")


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_patch_on_a_terminal_shows_control_characters(tmp_path, monkeypatch):
    from hardener.reporters import text
    from hardener.runner import run

    (tmp_path / "Dockerfile").write_bytes(
        b"FROM debian:12\r\n# \x1b[2J\x1b]0;pwned\x07 \xe2\x80\xae\r\n"
        b"RUN apt-get update\r\nRUN apt-get install curl\r\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HARDENER_CACHE_DIR", str(tmp_path / ".cache"))
    monkeypatch.setenv("NO_COLOR", "1")
    report = run(["."], "fix", offline=True)
    out, err = Terminal(), io.StringIO()
    text.render(report, diff=True, out=out, err=err)
    patch = out.getvalue()
    assert "\x1b" not in patch and "\x07" not in patch and "\u202e" not in patch
    assert " # \\x1b[2J\\x1b]0;pwned\\x07 \\u202e\r\n" in patch  # the line ending stays a line ending
    # Piped, the patch is the file's own bytes.
    piped = io.StringIO()
    text.render(report, diff=True, out=piped, err=err)
    assert " # \x1b[2J\x1b]0;pwned\x07 \u202e\r\n" in piped.getvalue()


# -- Markdown: the job summary and the pull request's description, rendered by a CommonMark parser --------


@pytest.fixture
def markdown():
    markdown_it = pytest.importorskip("markdown_it")
    return markdown_it.MarkdownIt("commonmark").enable("table").render


def nasty_report(tmp_path, monkeypatch, command):
    from hardener.runner import run

    make_tree(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HARDENER_CACHE_DIR", str(tmp_path / ".cache"))
    return run(["."], command, offline=True)


def assert_renders_as_text(html: str) -> None:
    assert "<img" not in html and "<a " not in html and "<b>" not in html
    assert "\x1b" not in html
    # GitHub mentions and links in text, never in code: outside code, a zero-width space prevents both.
    text = re.sub("<code>.*?</code>", "", html, flags=re.S)
    assert "@octocat" not in text and "https://evil" not in text and "www.evil" not in text


def test_job_summary_cells_cannot_be_broken_out_of(tmp_path, monkeypatch, markdown):
    from hardener.reporters import github

    report = nasty_report(tmp_path, monkeypatch, "check")
    summary = github.job_summary(report)
    summary.encode("utf-8")  # a name that is not UTF-8 does not crash the summary
    html = markdown(summary)
    assert_renders_as_text(html)
    rows = [r for r in html.split("<tr>") if "HD102" in r]
    assert len(rows) == len(NASTY)
    assert all(r.count("<td>") == 6 for r in rows)  # no name adds or removes a cell
    assert "<td><code>tick`code``&lt;img src=x onerror=alert(1)&gt;|cell/Dockerfile</code></td>" in html
    assert "<code>bad\\xff\\xfe/Dockerfile</code>" in html


def test_pull_request_body_cannot_be_broken_out_of(tmp_path, monkeypatch, markdown):
    from hardener.github.body import render_body

    report = nasty_report(tmp_path, monkeypatch, "fix")
    body = render_body(report, lambda path: os.path.relpath(path))
    body.encode("utf-8")
    html = markdown(body)
    assert_renders_as_text(html)
    rows = [r.split("</tr>")[0] for r in html.split("<tr>")[1:] if "HD102" in r.split("</tr>")[0]]
    assert len(rows) == len(NASTY) and all(r.count("<td>") == 6 for r in rows)
    assert "<code>tick`code``&lt;img src=x onerror=alert(1)&gt;|cell/Dockerfile</code>" in html
    assert "<code>nl\\x0a::add-mask::masked/Dockerfile</code>" in html


def test_markdown_text_renders_as_itself(markdown):
    text = "<b>x</b> [a](https://evil.example) ![i](x.png) *em* _u_ ~~s~~ $x$ a|b `c` @team www.evil.example #12 &amp;"
    html = markdown("| x |\n|---|\n| " + escape.md_text(text) + " |\n")
    cell = html.split("<td>")[1].split("</td>")[0]
    assert cell.replace("\u200b", "") == (
        "&lt;b&gt;x&lt;/b&gt; [a](https://evil.example) ![i](x.png) *em* _u_ ~~s~~ $x$ a|b `c` @team "
        "www.evil.example #12 &amp;amp;"
    )
    assert "@\u200bteam" in cell and "https:\u200b//" in cell and "www\u200b." in cell and "#\u200b12" in cell


@pytest.mark.parametrize("name", ["plain", "a`b", "``", "`lead", "trail`", " spaced ", "a```b`", "x|y"])
def test_code_spans_show_any_name_literally(markdown, name):
    html = markdown("- " + escape.md_code(name) + " after\n")
    assert html == f"<ul>\n<li><code>{name}</code> after</li>\n</ul>\n"
    html = markdown("| x |\n|---|\n| " + escape.md_code(name, table=True) + " |\n")
    assert f"<td><code>{name}</code></td>" in html


def test_fenced_blocks_hold_any_text(markdown):
    text = "RUN a\n```\n<b>x</b>\n````"
    fence = escape.md_fence(text)
    assert fence == "`````"
    html = markdown(f"{fence}suggestion\n{text}\n{fence}\nafter\n")
    code = '<pre><code class="language-suggestion">RUN a\n```\n&lt;b&gt;x&lt;/b&gt;\n````\n</code></pre>'
    assert html.startswith(code)
    assert escape.md_fence("plain") == "```"


def test_inert_lines():
    assert escape.log_line("::error::x") == "\\x3a:error::x"
    assert escape.log_line("  ::set-output name=a::b") == "  \\x3a:set-output name=a::b"
    assert escape.log_line("path ##[add-mask]v") == "path #\\x23[add-mask]v"
    assert escape.log_line("a:b::c") == "a:b::c"
    assert escape.visible("a\nb\x1b\udcff\u2028") == "a\\x0ab\\x1b\\xff\\u2028"
    assert escape.git_quoted("a/plain name") == "a/plain name"
    assert escape.git_quoted('a/"q"\\\udcff') == '"a/\\"q\\"\\\\\\377"'
