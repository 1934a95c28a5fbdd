"""Cases found by adversarial review: each once produced wrong output or a crash."""

import dockerfile
import pytest

from hardener.config import Config
from hardener.engine import check_text, fix_text
from hardener.model import InputError

UNSAFE = Config(unsafe_fixes=True)


def fix(text, **config):
    result = fix_text(text, "Dockerfile", Config(unsafe_fixes=True, **config))
    assert result.verification_error is None, result.verification_error
    dockerfile.parse_string(result.fixed)
    assert fix_text(result.fixed, "Dockerfile", Config(unsafe_fixes=True, **config)).fixed == result.fixed
    return result


@pytest.mark.parametrize("text", ["FROM debian:12\n\\\n", "FROM debian:12\n \\\n", "FROM debian:12\n\\"])
def test_a_lone_continuation_is_bad_input_not_a_crash(text):
    with pytest.raises(InputError, match="Dockerfile:2: invalid Dockerfile: a line continuation with no instruction"):
        check_text(text, "Dockerfile")


@pytest.mark.parametrize(
    "text",
    [
        'FROM node:20\nCMD ["node", "/app"]\nCOPY . /app \\\n',
        'FROM debian:12\nCMD ["curl"]\nRUN apt-get update && apt-get install -y curl \\\n',
    ],
)
def test_nothing_is_inserted_after_a_continuation_at_the_end_of_the_file(text):
    result = fix(text)
    assert "USER" not in result.fixed
    assert any("line continuation" in s.reason for s in result.skipped if s.rule == "HD101")


def test_an_instruction_swallowed_by_a_continuation_fails_verification(monkeypatch):
    from hardener import engine
    from hardener.model import Edit
    from tests.test_engine import BreaksTheFile

    class AppendsAfterContinuation(BreaksTheFile):
        def check(self, document, context):
            if "USER" not in document.text:
                yield self.finding(2, "x", edits=[Edit.insert(len(document.text), "USER node\n")])

    monkeypatch.setattr(engine, "selected_rules", lambda config, kind: [AppendsAfterContinuation()])
    result = engine.fix_text("FROM node:20\nCOPY . /app \\\n", "Dockerfile", Config())
    assert result.verification_error == "an instruction no fix touches changed"


def test_merging_never_deletes_a_comment():
    text = "FROM debian:12\nRUN apt-get update\nRUN \\\n# install curl\n    apt-get install -y curl\nUSER 1000\n"
    assert fix(text, select=("HD102",)).fixed == text


def test_repeated_identical_lines_do_not_confuse_verification():
    text = "FROM debian:12\nRUN apt-get update\n\n\nRUN apt-get install -y curl\n\n\nADD app/ /app\n"
    result = fix(text, select=("HD102", "HD105"))
    assert result.fixed == "FROM debian:12\nRUN apt-get update && \\\n    apt-get install -y curl\n\n\nCOPY app/ /app\n"


def test_large_files_fix_in_linear_time():
    text = "FROM debian:12\n" + "RUN apt-get update\nRUN apt-get install curl\nADD a /b\n" * 1500
    result = fix_text(text, "Dockerfile", Config(select=("HD105",)))  # ~4,500 lines, 1,500 edits
    assert result.fixed.count("COPY a /b") == 1500


@pytest.mark.parametrize(
    "text",
    [
        # The heredoc is written to a file, not run: useradd never happens.
        'FROM debian:12\nRUN cat > /setup.sh <<EOF\nuseradd app\nEOF\nCMD ["/setup.sh"]\n',
        # The user is created in another root file system.
        'FROM debian:12\nRUN useradd --root /mnt/sysroot app\nCMD ["app"]\n',
        # The shipped user is deleted.
        'FROM node:20-alpine\nRUN deluser --remove-home node\nCOPY . /app\nCMD ["node", "/app"]\n',
    ],
)
def test_no_user_is_used_that_the_image_does_not_have(text):
    result = fix(text)
    added = [line for line in result.fixed.splitlines() if line.startswith("USER")]
    assert added == ["USER 10001:10001"]


@pytest.mark.parametrize(
    "image,tools",
    [
        ("bash:5.2", "addgroup"),
        ("composer:2", "addgroup"),
        ("eclipse-temurin:21-jre-ubi9-minimal", None),
        ("almalinux:9-micro", None),
        ("oraclelinux:9-slim", None),
        ("rockylinux:9", "groupadd"),
    ],
)
def test_users_are_created_with_the_tools_the_image_has(image, tools):
    result = fix(f'FROM {image}\nCOPY app /app\nCMD ["/app"]\n', select=("HD101",))
    if tools is None:
        assert result.fixed.endswith('COPY app /app\nCMD ["/app"]\n') and result.skipped
    else:
        assert f"RUN {tools} " in result.fixed


@pytest.mark.parametrize(
    "later",
    [
        "FROM base\nRUN apt-get install -y git\n",
        'RUN if [ -n "$X" ]; then apt-get install -y git; fi\n',
        "RUN <<EOF\napt-get install -y ca-certificates\nupdate-ca-certificates\nEOF\n",
        "RUN xargs apt-get install -y < pkgs\n",
        'RUN bash -c "apt-get install -y git"\n',
        "ONBUILD RUN apt-get install -y git\n",
    ],
)
def test_apt_lists_stay_when_a_later_install_needs_them(later):
    text = "FROM debian:12 AS base\nRUN apt-get update && apt-get install -y curl\n" + later
    assert "rm -rf /var/lib/apt/lists" not in fix(text, select=("HD104",)).fixed


@pytest.mark.parametrize(
    "directives,escape",
    [(" # escape=`\n", "`"), ("# syntax=docker/dockerfile:1\n#Escape = `\n", "`"), ("# foo=bar\n# escape=`\n", "\\")],
)
def test_parser_directives_are_read_as_buildkit_reads_them(directives, escape):
    from hardener.dockerfile.document import DockerfileDocument

    assert DockerfileDocument(directives + "FROM debian:12\n").escape == escape


def test_a_trailing_backslash_blocks_appending():
    text = "# escape=`\nFROM debian:12\nUSER 1\nRUN apt-get update && apt-get install -y curl && echo C:\\\n"
    assert fix(text, select=("HD104",)).fixed == text


def test_options_after_double_dash_are_operands():
    text = "FROM debian:12\nUSER 1\nRUN apt-get -- install curl\n"
    assert fix(text, select=("HD103",)).fixed == text


@pytest.mark.parametrize("source", ["mylib-1.0.gem", "crate.crate", "pkg.apk", "disk.ova", "x.tar.zstd"])
def test_add_of_a_possible_archive_stays_add(source):
    result = fix(f"FROM debian:12\nADD {source} /tmp/\n", select=("HD105",))
    assert result.fixed.startswith("FROM debian:12\nADD ") and "could be an archive" in result.skipped[0].reason


def test_a_lone_carriage_return_is_part_of_a_word():
    text = "FROM debian:12\nUSER 1\nRUN echo foo\rapt-get install curl\n"
    assert fix(text, select=("HD103",)).fixed == text


def test_mixed_line_endings_follow_the_majority():
    text = "FROM debian:12\nRUN apt-get update\r\nRUN apt-get install -y curl\r\nCMD bash\r\n"
    assert "&& \\\r\n    apt-get install" in fix(text, select=("HD102",)).fixed


# -- a safe fix never breaks the build ------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        '"https://example.com/download"',
        "'https://example.com/download'",
        'h"ttps://example.com/download"',
        "https\\://example.com/download",
        '"git@github.com:acme/tools.git"',
        "deploy@git.example.com:acme/tools",
        "http://example.com/app.tar.gz",  # fetched, not unpacked: still only ADD can do it
    ],
)
def test_add_of_a_remote_source_is_never_turned_into_copy(source):
    text = f"FROM debian:12\nUSER 1\nADD {source} /opt/app\n"
    assert check_text(text, "Dockerfile", Config(select=("HD105",))) == []
    assert fix(text, select=("HD105",)).fixed == text


def test_add_in_json_form_with_a_remote_source_stays_add():
    text = 'FROM debian:12\nUSER 1\nADD ["https://example.com/download", "/opt/app"]\n'
    assert fix(text, select=("HD105",)).fixed == text


def test_add_with_a_quoted_local_file_becomes_copy():
    text = "FROM debian:12\nADD \"app.conf\" '/etc/app/'\n"
    assert fix(text, select=("HD105",)).fixed == text.replace("ADD", "COPY")


@pytest.mark.parametrize("escape", ["\\", "`"])
def test_add_source_escapes_follow_the_escape_directive(escape):
    text = f"# escape={escape}\nFROM debian:12\nADD https{escape}://example.com/download /opt/app\n"
    assert check_text(text, "Dockerfile", Config(select=("HD105",))) == []


@pytest.mark.parametrize(
    "before",
    [
        "",  # the base image decides the user
        "USER builder\n",
        "USER 1000:1000\n",
        "USER $BUILD_USER\n",
        "USER root\nUSER builder\n",
    ],
)
@pytest.mark.parametrize(
    "run",
    [
        "sudo apt-get update && sudo apt-get install -y curl",
        "sudo -E apt-get update && sudo -E apt-get install -y curl",
        "sudo -u root apt-get update && sudo -u root apt-get install -y curl",
        "sudo -n apt-get update && sudo -n apt-get install -y curl",
        "doas apt-get update && doas apt-get install -y curl",
        "/usr/bin/sudo apt-get update && /usr/bin/sudo apt-get install -y curl",
        "sudo dnf install -y git",
        "sudo dnf5 install -y git",
        "sudo yum install -y git",
        "sudo microdnf install -y git",
        "sudo zypper install -y git",
    ],
)
def test_no_cleanup_is_appended_where_sudo_gave_the_rights(before, run):
    text = f"FROM debian:12\n{before}RUN {run}\n"
    result = fix(text, select=("HD104",))
    assert result.fixed == text
    [skipped] = [s for s in result.skipped if s.rule == "HD104"]
    assert "sudo" in skipped.reason or "doas" in skipped.reason


@pytest.mark.parametrize("user", ["root", "0", "0:0", "root:root"])
def test_cleanup_is_appended_when_the_dockerfile_says_root_runs_it(user):
    text = f"FROM debian:12 AS base\nUSER {user}\nFROM base\nRUN sudo apt-get update && sudo apt-get install -y curl\n"
    assert fix(text, select=("HD104",)).fixed == text.replace("curl\n", "curl && rm -rf /var/lib/apt/lists/*\n")


def test_sudo_with_options_still_finds_the_package_manager():
    text = "FROM debian:12\nRUN sudo -n -u root apt-get install curl\n"
    assert fix(text, select=("HD103",)).fixed == text.replace("install", "install -y")


@pytest.mark.parametrize(
    "options",
    ["-qq", "-q=2", "-q -q", "-q 2", "--quiet --quiet", "--quiet=2", "-o quiet=2", "-oquiet=2", "-q -qy"],
)
def test_apt_quiet_level_two_already_answers_yes(options):
    text = f"FROM debian:12\nRUN apt-get {options} install curl\n"
    assert check_text(text, "Dockerfile", Config(select=("HD103",))) == []


@pytest.mark.parametrize("options", ["-q", "-q=1", "--quiet", "-q 1", "-qq -q=1"])
def test_apt_quiet_level_below_two_still_prompts(options):
    text = f"FROM debian:12\nRUN apt-get {options} install curl\n"
    assert fix(text, select=("HD103",)).fixed == text.replace("install", "install -y")


@pytest.mark.parametrize(
    "run",
    [
        "--mount=type=tmpfs,target=/var/lib/apt/lists apt-get update && apt-get install -y curl",
        "--mount=type=tmpfs,target=/var/lib/apt apt-get update && apt-get install -y curl",
        "--mount=type=cache,dst=/var/lib/apt/ apt-get update && apt-get install -y curl",
        "--mount=target=/var/lib/apt/lists,rw apt-get update && apt-get install -y curl",
        "--mount=type=cache,target=/var/cache/libdnf5 dnf install -y git",
        "--mount=type=cache,target=/var/cache/libdnf5 dnf5 install -y git",
        "--mount=type=cache,target=/var/cache/dnf yum install -y git",
        "--mount=type=tmpfs,target=/var/cache/yum microdnf install -y git",
        "--mount=type=tmpfs,target=/var/cache/zypp zypper install -y git",
        "--mount=type=tmpfs,target=/var/cache/apk apk add git",
        "dnf install -y git && rm -rf /var/cache/libdnf5",
        "zypper install -y git && zypper cc --all",
    ],
)
def test_caches_kept_out_of_the_layer_are_recognised(run):
    text = f"FROM debian:12\nRUN {run}\n"
    assert check_text(text, "Dockerfile", Config(select=("HD104",))) == []


@pytest.mark.parametrize(
    "mount",
    [
        "--mount=type=cache,target=/var/lib/apt/lists/partial",  # only a subfolder
        "--mount=type=cache,target=/var/lib/ap",  # a prefix of the name, not a folder above it
        "--mount=type=secret,id=netrc,target=/var/lib/apt",
    ],
)
def test_a_mount_that_does_not_hold_the_cache_does_not_count(mount):
    text = f"FROM debian:12\nRUN {mount} apt-get update && apt-get install -y curl\n"
    assert fix(text, select=("HD104",)).fixed == text.replace("curl\n", "curl && rm -rf /var/lib/apt/lists/*\n")


@pytest.mark.parametrize("program", ["dnf5", "/usr/bin/dnf", "microdnf", "yum"])
def test_the_clean_command_calls_the_manager_the_run_uses(program):
    text = f"FROM fedora:41\nRUN {program} install -y git\n"
    assert fix(text, select=("HD104",)).fixed == text.replace("git\n", f"git && {program} clean all\n")


def test_one_arg_feeding_two_froms_is_reported_and_pinned_once():
    from hardener.pinning import Resolution, reference_key

    text = "ARG BASE=redis:7\nFROM $BASE AS build\nFROM ${BASE}\nUSER 1\n"
    findings = check_text(text, "Dockerfile", Config(select=("HD112",)))
    assert [(f.rule, f.line) for f in findings] == [("HD112", 1)]
    digest = "sha256:" + "a" * 64
    key = reference_key("redis:7")
    resolved = {key: Resolution(key, digest, "application/vnd.oci.image.index.v1+json")}
    result = fix_text(text, "Dockerfile", Config(select=("HD112",)), digests=resolved)
    assert result.fixed == text.replace("redis:7", f"redis:7@{digest}")
    assert len(result.applied) == 1 and result.skipped == []
    dockerfile.parse_string(result.fixed)


@pytest.mark.parametrize(
    "text,rule",
    [
        ('FROM debian:12\nSHELL ["pwsh", "-Command"]\nRUN apt-get update && apt-get install -y curl\n', "HD104"),
        ('FROM fedora:41 AS base\nSHELL ["powershell", "-c"]\nFROM base\nRUN dnf install -y git\n', "HD104"),
        ('FROM debian:12\nSHELL ["pwsh", "-Command"]\nRUN apt-get update\nRUN apt-get install -y curl\n', "HD102"),
    ],
)
def test_nothing_is_joined_with_and_under_a_shell_that_is_not_posix(text, rule):
    result = fix(text, select=(rule,))
    assert result.fixed == text
    assert any(s.rule == rule and "SHELL" in s.reason for s in result.skipped)


def test_a_posix_shell_set_by_shell_still_gets_the_fix():
    text = (
        'FROM debian:12\nSHELL ["/bin/bash", "-o", "pipefail", "-c"]\nRUN apt-get update && apt-get install -y curl\n'
    )
    assert fix(text, select=("HD104",)).fixed == text.replace("curl\n", "curl && rm -rf /var/lib/apt/lists/*\n")


@pytest.mark.parametrize(
    "base",
    ["FROM example.com/dev/workspace:1\n", "FROM $BASE\n", "ARG BASE=example.com/dev/workspace:1\nFROM ${BASE}\n"],
)
def test_no_user_is_created_where_sudo_says_the_base_image_is_not_root(base):
    text = base + "RUN sudo apt-get update && sudo apt-get install -y git\n"
    result = fix(text, select=("HD101",))
    assert result.fixed == text
    assert any(s.rule == "HD101" and "sudo" in s.reason for s in result.skipped)


@pytest.mark.parametrize(
    "base,added",
    [
        ("FROM debian:12\n", "RUN groupadd"),  # a known base image that runs as root
        ("FROM node:22\n", "USER node"),  # switching to a user the image ships needs no rights
    ],
)
def test_a_user_is_still_added_when_sudo_is_only_a_habit(base, added):
    text = base + 'RUN sudo apt-get update && sudo apt-get install -y git\nCMD ["git"]\n'
    assert added in fix(text, select=("HD101",)).fixed


@pytest.mark.parametrize("run", ["doas apk add --no-cache git", "/usr/bin/sudo -E make install", "X=1 sudo -n make"])
def test_every_privilege_wrapper_is_reported(run):
    findings = check_text(f"FROM alpine:3.20\nRUN {run}\n", "Dockerfile", Config(select=("HD108",)))
    assert [f.rule for f in findings] == ["HD108"]


@pytest.mark.parametrize(
    "rule,config",
    [("HD106", {}), ("HD111", {"trusted_registries": ("ghcr.io/acme",)})],
)
def test_one_arg_feeding_two_froms_is_one_base_image_finding(rule, config):
    text = "ARG BASE=python\nFROM $BASE AS build\nFROM ${BASE}\nFROM python\nUSER 1\n"
    findings = check_text(text, "Dockerfile", Config(select=(rule,), **config))
    # The two FROMs fed by the ARG are one place to change; the literal FROM is another.
    assert [f.line for f in findings] == [2, 4]


def test_froms_of_different_images_from_one_arg_are_each_reported():
    text = "ARG TAG=latest\nFROM redis:$TAG AS cache\nFROM nginx:$TAG\nUSER 1\n"
    assert [f.line for f in check_text(text, "Dockerfile", Config(select=("HD106",)))] == [2, 3]


def test_an_empty_arg_default_is_no_base_image():
    text = "ARG BASE=\nFROM $BASE\nUSER 1\n"
    assert check_text(text, "Dockerfile", Config(select=("HD106",))) == []


def test_froms_built_from_the_same_args_are_one_pinning_finding():
    text = "ARG PY=3.12\nFROM python:${PY}-slim AS build\nFROM python:$PY-slim\nFROM python:${PY}\nUSER 1\n"
    findings = check_text(text, "Dockerfile", Config(select=("HD112",)))
    assert [f.line for f in findings] == [2, 4]
