"""The runner reads each file with its own settings, the registry's answers included."""

from __future__ import annotations

import json

A = "sha256:" + "a" * 64
B = "sha256:" + "b" * 64


def test_each_file_is_pinned_from_its_own_settings_lock_file(tmp_path, run_cli):
    (tmp_path / ".git").mkdir()
    for team, digest in (("team-a", A), ("team-b", B)):
        folder = tmp_path / team
        folder.mkdir()
        (folder / ".hardener.toml").write_text('select = ["HD112"]\ndigest-lock-file = "digests.json"\n')
        (folder / "digests.json").write_text(json.dumps({"python:3.12": digest}))
        (folder / "Dockerfile").write_text("FROM python:3.12\n")
    # Named from the top, whose settings (none) name no lock file.
    result = run_cli("fix", "--offline", ".", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "team-a" / "Dockerfile").read_text() == f"FROM python:3.12@{A}\n"
    assert (tmp_path / "team-b" / "Dockerfile").read_text() == f"FROM python:3.12@{B}\n"


def test_standard_input_is_pinned_from_the_settings_of_its_name(tmp_path, run_cli):
    (tmp_path / ".git").mkdir()
    folder = tmp_path / "svc"
    folder.mkdir()
    (folder / ".hardener.toml").write_text('select = ["HD112"]\ndigest-lock-file = "digests.json"\n')
    (folder / "digests.json").write_text(json.dumps({"python:3.12": A}))
    result = run_cli("fix", "--offline", "-", "--stdin-filename", "svc/Dockerfile", input="FROM python:3.12\n")
    assert result.stdout == f"FROM python:3.12@{A}\n"


def test_each_file_is_parsed_once_per_round(tmp_path, monkeypatch):
    from hardener import runner
    from hardener.kinds import kind_named

    (tmp_path / ".git").mkdir()
    (tmp_path / ".hardener.toml").write_text('select = ["HD112", "HD105"]\ndigest-lock-file = "digests.json"\n')
    (tmp_path / "digests.json").write_text(json.dumps({"python:3.12": A}))
    (tmp_path / "Dockerfile").write_text("FROM python:3.12\nADD app.py /app/\n")
    kind = kind_named("dockerfile")
    parsed = []
    real_parse = type(kind).parse

    def counting_parse(self, text, path):
        parsed.append(text)
        return real_parse(self, text, path)

    monkeypatch.setattr(type(kind), "parse", counting_parse)
    monkeypatch.chdir(tmp_path)
    report = runner.run(["."], "check", offline=True)
    assert sorted(f.rule for f in report.findings) == ["HD105", "HD112"]
    assert len(parsed) == 1  # the pinning pre-pass's document is the one the rules read
    parsed.clear()
    report = runner.run(["."], "fix", offline=True)
    assert {a.rule for a in report.applied} == {"HD105", "HD112"}
    assert len(parsed) == 2  # the original once, and the fixed text once (one round of fixes)
