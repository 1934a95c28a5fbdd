"""The evidence behaviour-changing fixes rest on: file roles, the repository the edge reads, and how
decisions and their reasons reach the text output, JSON and the pull request's description."""

from __future__ import annotations

import json
import os

import pytest

from hardener.config import Config, config_from_mapping
from hardener.engine import check_text, fix_text
from hardener.evidence.repository import Repository
from hardener.evidence.roles import Role, role_of
from hardener.gather import MAX_FILE_BYTES, read_repository
from hardener.model import InputError


@pytest.mark.parametrize(
    "path,role",
    [
        ("compose.yaml", Role.PRODUCTION),
        ("deploy/docker-compose.prod.yml", Role.PRODUCTION),
        ("tests/integration/compose.yaml", Role.TEST),
        ("e2e/Dockerfile", Role.TEST),
        ("examples/basic/compose.yaml", Role.EXAMPLE),
        (".devcontainer/Dockerfile", Role.DEVELOPMENT),
        ("docker-compose.dev.yml", Role.DEVELOPMENT),
        ("docker-compose.override.yml", Role.OVERRIDE),
        ("docker-compose-test.yml", Role.TEST),
        ("benchmarks/harness.py", Role.TEST),
        ("docker-compose.production.yml", Role.PRODUCTION),
    ],
)
def test_a_files_role_comes_from_its_folders_and_name(path, role):
    assert role_of(path, Repository()).role is role


def test_a_file_only_a_test_target_starts_is_a_test_file():
    makefile = "build:\n\tdocker build .\ntest:\n\tdocker compose -f stack.yml up -d\n\tpytest\n"
    found = role_of("stack.yml", Repository({"Makefile": makefile}, known=True))
    assert found.role is Role.TEST and "`test` in `Makefile`" in found.reason
    both = makefile + "deploy:\n\tdocker compose -f stack.yml up -d\n"
    assert role_of("stack.yml", Repository({"Makefile": both}, known=True)).role is Role.PRODUCTION


def test_a_file_only_a_ci_workflow_starts_is_a_ci_file():
    workflow = "on: push\njobs:\n  smoke:\n    runs-on: x\n    steps:\n      - run: docker compose -f stack.yml up\n"
    repository = Repository({".github/workflows/smoke.yml": workflow}, known=True)
    assert role_of("stack.yml", repository).role is Role.TEST  # the job's name says test


def test_settings_give_roles_and_what_each_role_gets():
    config = config_from_mapping({"file-roles": {"stack/*.yml": "production"}, "roles": {"test": "off"}}, "x")
    assert role_of("stack/tests.yml", Repository(), config).role is Role.PRODUCTION
    text = "services:\n  db:\n    image: postgres:16\n"
    assert check_text(text, "tests/compose.yaml", config) == []
    assert check_text(text, "stack/tests.yml", config)


@pytest.mark.parametrize(
    "data,message",
    [
        ({"roles": {"staging": "fix"}}, "is not a role"),
        ({"roles": {"test": "maybe"}}, "must be one of fix, report, off"),
        ({"file-roles": {"a/*": "prod"}}, "must be one of production"),
        ({"roles": ["test"]}, "must be a table"),
    ],
)
def test_bad_role_settings_are_errors(data, message):
    with pytest.raises(InputError, match=message):
        config_from_mapping(data, "pyproject.toml")


def test_every_finding_names_its_files_role():
    findings = check_text("services:\n  db:\n    image: postgres:16\n", "dev/compose.yaml", Config(unsafe_fixes=True))
    assert findings and {f.role for f in findings} == {"development"}
    kept = [f for f in findings if f.rule == "HD205"]
    assert kept[0].fix is None and "development file (folder `dev/`)" in kept[0].fix_unavailable


def test_a_report_role_still_gets_safe_fixes():
    result = fix_text("services:\n  web:\n    image: nginx:1.27\n", "tests/compose.yaml", Config(unsafe_fixes=True))
    assert [a.rule for a in result.applied] == ["HD201"]


def test_the_edge_reads_scripts_makefiles_and_env_files_and_nothing_through_links(tmp_path):
    (tmp_path / "docker").mkdir()
    (tmp_path / "docker" / "entrypoint.sh").write_text("#!/bin/sh\nexec app\n")
    (tmp_path / "run").write_text("#!/bin/sh\necho hi\n")  # a script without a suffix
    (tmp_path / "LICENSE").write_text("not evidence\n")
    (tmp_path / "Makefile").write_text("test:\n\ttrue\n")
    (tmp_path / ".env").write_text("A=1\n")
    (tmp_path / "app").write_bytes(b"\x7fELF\0\0binary")
    (tmp_path / "big.sh").write_text("#" * (MAX_FILE_BYTES + 1))
    outside = tmp_path.parent / f"{tmp_path.name}-outside.sh"
    outside.write_text("#!/bin/sh\nsecret\n")
    os.symlink(outside, tmp_path / "linked.sh")
    (tmp_path / "node_modules").mkdir()
    (tmp_path / "node_modules" / "x.sh").write_text("#!/bin/sh\n")
    repository = read_repository(str(tmp_path), {"Dockerfile": "FROM x\n"})
    assert set(repository.files) == {"Dockerfile", "docker/entrypoint.sh", "run", "Makefile", ".env"}
    assert "big.sh" in repository.unread and "linked.sh" in repository.unread
    assert "app" in repository.present  # a program, seen but not read


def test_the_cli_shows_the_evidence_and_the_role(tmp_path, run_cli):
    (tmp_path / "start.sh").write_text("#!/bin/sh\nexec python app.py\n")
    (tmp_path / "Dockerfile").write_text('FROM python:3.12-slim\nWORKDIR /app\nCOPY . .\nENTRYPOINT ["./start.sh"]\n')
    (tmp_path / "dev").mkdir()
    (tmp_path / "dev" / "compose.yaml").write_text("services:\n  db:\n    image: postgres:16\n")
    text = run_cli("fix", "--diff", "--unsafe-fixes", ".", cwd=tmp_path)
    assert "HD101 would fix" in text.stderr + text.stdout
    out = text.stdout + text.stderr
    assert "because entrypoint `start.sh` read: it changes no users, ownership or privileges" in out
    assert "(development file)" in out
    report = json.loads(run_cli("check", "--unsafe-fixes", "--format", "json", ".", cwd=tmp_path).stdout)
    roles = {f["path"]: f["role"] for f in report["files"]}
    assert roles == {"Dockerfile": "production", "dev/compose.yaml": "development"}
    user_fix = next(f for f in report["findings"] if f["rule"] == "HD101")
    assert any("start.sh" in e for e in user_fix["evidence"])


def test_the_pull_request_says_what_each_fix_rests_on_and_what_it_left(tmp_path):
    from hardener.github.body import render_body
    from hardener.runner import run

    (tmp_path / "compose.yaml").write_text(
        "services:\n  db:\n    image: postgres:16\n    environment:\n      POSTGRES_PASSWORD: s3cretpw\n"
        "    volumes:\n      - ./data:/var/lib/postgresql/data\n"
    )
    report = run([str(tmp_path)], "fix", overrides={"unsafe_fixes": True}, offline=True)
    body = render_body(report, lambda path: os.path.relpath(path, tmp_path))
    assert "### Behaviour-changing fixes: the evidence" in body
    assert "is a database image: limits from its class" in body
    assert "### Before `docker compose up`" in body and "`POSTGRES_PASSWORD`" in body
    assert "### Not changed, and why" in body and "is a bind mount of the host" in body
    assert "s3cretpw" not in body


@pytest.mark.parametrize(
    "dockerfile,compose_build,expected",
    [
        ("FROM nginx:1.27\nCOPY index.html /usr/share/nginx/html/\n", "./web", "nginx:1.27"),
        # Its own command, user or entrypoint: the base image's needs say nothing about it.
        ('FROM nginx:1.27\nCMD ["./serve"]\n', "./web", None),
        ("FROM nginx:1.27\nUSER nginx\n", "./web", None),
        # The stage shipped is the target compose names, through the stages it builds on.
        (
            'FROM node:22 AS assets\nRUN npm ci\nCMD ["npm", "start"]\n'
            "FROM nginx:1.27 AS site\nCOPY --from=assets /dist /srv\nFROM site AS final\n",
            "{context: ./web, target: final}",
            "nginx:1.27",
        ),
        ('FROM node:22 AS assets\nCMD ["npm", "start"]\nFROM nginx:1.27\n', "{context: ./web, target: assets}", None),
        ("ARG BASE\nFROM $BASE\n", "./web", None),
    ],
)
def test_the_image_a_service_is_built_on_is_read_from_its_dockerfile(dockerfile, compose_build, expected):
    from hardener.evidence.builds import built_on

    compose = f"services:\n  web:\n    build: {compose_build}\n"
    repository = Repository({"compose.yaml": compose, "web/Dockerfile": dockerfile}, known=True)
    assert built_on(repository, "compose.yaml", "web") == expected
    assert built_on(repository, "compose.yaml", "other") is None
