"""Input/expected pairs for the layouts real Dockerfiles come in.

Each case runs every rule with behaviour-changing fixes on, then checks the
exact output, that a second run changes nothing, and that BuildKit parses it.
"""

import dockerfile
import pytest

from hardener.config import Config
from hardener.engine import check_text, fix_text

# These cases were written before the apt version and recommends rules (HD116, HD117), whose own
# examples cover them; here they would only repeat themselves in every expected text.
UNSAFE = Config(unsafe_fixes=True, ignore=("HD116", "HD117"))
CREATE_DEBIAN = (
    "RUN groupadd --system --gid 10001 appuser && useradd --system --uid 10001 --gid appuser "
    "--no-log-init --create-home appuser"
)


def fixed(text, config=UNSAFE, path="Dockerfile"):
    result = fix_text(text, path, config)
    assert result.verification_error is None, result.verification_error
    assert fix_text(result.fixed, path, config).fixed == result.fixed, "second run changed something"
    dockerfile.parse_string(result.fixed)
    return result.fixed


CASES = {
    "crlf line endings are kept": (
        'FROM debian:12\r\nRUN apt-get update\r\nRUN apt-get install -y curl\r\nCMD ["bash"]\r\n',
        "FROM debian:12\r\nRUN apt-get update && \\\r\n    apt-get install -y curl && \\\r\n"
        "    rm -rf /var/lib/apt/lists/*\r\n" + CREATE_DEBIAN + '\r\nUSER 10001:10001\r\nCMD ["bash"]\r\n',
    ),
    "no trailing newline stays that way": (
        'FROM node:22\nCOPY . /app\nCMD ["node", "/app"]',
        'FROM node:22\nCOPY . /app\nUSER node\nCMD ["node", "/app"]',
    ),
    "insertion at the very end without a newline": (
        'FROM node:22\nCMD ["node", "/app"]\nCOPY . /app',
        'FROM node:22\nCMD ["node", "/app"]\nCOPY . /app\nUSER node',
    ),
    "escape directive with backtick continuations": (
        '# escape=`\nFROM debian:12\nRUN apt-get update\nRUN apt-get install -y `\n    curl\nCMD ["curl"]\n',
        "# escape=`\nFROM debian:12\nRUN apt-get update && `\n    apt-get install -y `\n    curl && `\n"
        "    rm -rf /var/lib/apt/lists/*\n" + CREATE_DEBIAN + '\nUSER 10001:10001\nCMD ["curl"]\n',
    ),
    "leading && style and tab indentation are followed": (
        "FROM debian:12\nRUN apt-get update\nRUN apt-get install -y curl \\\n\t&& echo ok\nUSER 1000\n",
        "FROM debian:12\nRUN apt-get update \\\n\t&& apt-get install -y curl \\\n\t&& echo ok \\\n"
        "\t&& rm -rf /var/lib/apt/lists/*\nUSER 1000\n",
    ),
    "comment lines inside a continuation are kept": (
        "FROM alpine:3.20\nRUN apk add \\\n    # the tools\n    curl \\\n    git\nUSER nobody\n",
        "FROM alpine:3.20\nRUN apk add --no-cache \\\n    # the tools\n    curl \\\n    git\nUSER nobody\n",
    ),
    "lowercase instructions get lowercase insertions": (
        'from python:3.12-slim\ncopy . /app\ncmd ["python", "/app/main.py"]\n',
        "from python:3.12-slim\ncopy . /app\n" + CREATE_DEBIAN.replace("RUN", "run", 1) + "\nuser 10001:10001\n"
        'cmd ["python", "/app/main.py"]\n',
    ),
    "continuation at end of file": (
        "FROM alpine:3.20\nUSER nobody\nRUN apk add curl \\",
        "FROM alpine:3.20\nUSER nobody\nRUN apk add --no-cache curl \\",
    ),
    "build stages get no USER, only the final stage": (
        "FROM golang:1.23 AS build\nRUN go build -o /out/app .\n\nFROM gcr.io/distroless/static-debian12\n"
        'COPY --from=build /out/app /app\nENTRYPOINT ["/app"]\n',
        "FROM golang:1.23 AS build\nRUN go build -o /out/app .\n\nFROM gcr.io/distroless/static-debian12\n"
        'COPY --from=build /out/app /app\nUSER nonroot\nENTRYPOINT ["/app"]\n',
    ),
    "user created in a heredoc is reused": (
        'FROM alpine:3.20\nRUN <<EOF\naddgroup -S web\nadduser -S -G web web\nEOF\nCMD ["sh"]\n',
        'FROM alpine:3.20\nRUN <<EOF\naddgroup -S web\nadduser -S -G web web\nEOF\nUSER web\nCMD ["sh"]\n',
    ),
    "base stage by ARG resolves to alpine": (
        'ARG VARIANT=3.20\nFROM alpine:${VARIANT}\nCOPY app /app\nCMD ["/app"]\n',
        "ARG VARIANT=3.20\nFROM alpine:${VARIANT}\nCOPY app /app\n"
        'RUN addgroup -S -g 10001 appuser && adduser -S -D -u 10001 -G appuser appuser\nUSER 10001:10001\nCMD ["/app"]\n',
    ),
}


@pytest.mark.parametrize("before,after", CASES.values(), ids=CASES.keys())
def test_layout_cases(before, after):
    assert fixed(before) == after


def test_byte_order_mark_survives_in_the_text_layer():
    # The BOM is stripped on read and restored on write (tests/test_cli.py); the
    # engine sees text without it, and BuildKit accepts the file either way.
    text = "FROM debian:12\nRUN apt-get update && apt-get install -y curl\nUSER 1000\n"
    assert fixed(text) == text.replace("curl\n", "curl && rm -rf /var/lib/apt/lists/*\n")


HEREDOC = """\
# syntax=docker/dockerfile:1
FROM debian:12
RUN <<EOF
apt-get update
apt-get install curl
EOF
COPY <<-'CONF' /etc/app.conf
	key = value
	RUN apt-get update
	CONF
RUN apt-get update
RUN apt-get install -y git
"""


def test_heredoc_bodies_are_never_touched():
    out = fixed(HEREDOC)
    assert out.startswith(HEREDOC.split("RUN apt-get update\nRUN")[0])
    before = [h for c in dockerfile.parse_string(HEREDOC) for h in c.heredocs]
    after = [h for c in dockerfile.parse_string(out) for h in c.heredocs]
    assert before == after
    assert "RUN apt-get update && \\\n    apt-get install -y git" in out


ALREADY_HARDENED = """\
# syntax=docker/dockerfile:1
FROM python:3.12-slim@sha256:2d3b7cdbbeda2b0bdfd4fb6f2b26a7aab4d2a4c0b6b6c1e1e8f2ab9e1c1d1e2f AS base
RUN apt-get update \\
 && apt-get install -y --no-install-recommends curl \\
 && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 app && useradd --system --uid 10001 --gid app app
WORKDIR /app
COPY --chown=app:app . .
USER 10001:10001
HEALTHCHECK CMD curl -fsS http://localhost:8000/ || exit 1
CMD ["python", "main.py"]
"""


def test_already_hardened_file_has_no_finding_and_no_change():
    assert check_text(ALREADY_HARDENED, "Dockerfile", UNSAFE) == []
    assert fixed(ALREADY_HARDENED) == ALREADY_HARDENED


def test_safe_fixes_only_without_unsafe_fixes():
    text = 'FROM debian:12\nRUN apt-get update\nRUN apt-get install -y curl\nCMD ["curl"]\n'
    result = fix_text(text, "Dockerfile", Config(ignore=("HD116", "HD117")))
    assert "USER" not in result.fixed
    assert "&& \\\n    apt-get install" in result.fixed
    skipped = [s for s in result.skipped if s.rule == "HD101"]
    assert skipped and "--unsafe-fixes" in skipped[0].reason


@pytest.mark.parametrize(
    "text,reason",
    [
        ("FROM mcr.microsoft.com/windows/servercore:ltsc2022\nCOPY app C:/app\n", "Windows"),
        ("FROM scratch AS x\nFROM example.com/team/base:1\nCOPY app /app\n", "unknown"),
        ("FROM $BASE\nCOPY app /app\n", "variable"),
        ("FROM debian:12\nONBUILD COPY . /src\n", "ONBUILD"),
        ("FROM postgres:16\nCOPY init.sql /docker-entrypoint-initdb.d/\n", "must start as root"),
        ("FROM debian:12\nRUN apt-get update && apt-get install -y gosu && rm -rf /var/lib/apt/lists/*\n", "gosu"),
        (
            "FROM debian:12\nRUN apt-get update && apt-get install -y supervisor && rm -rf /var/lib/apt/lists/*\n"
            'CMD ["supervisord"]\n',
            "supervisor",
        ),
        (
            'FROM debian:12\nRUN useradd -r -s /usr/sbin/nologin postfix\nCMD ["postfix", "start-fg"]\n',
            "service account",
        ),
    ],
)
def test_root_user_is_left_alone_when_not_safe(text, reason):
    result = fix_text(text, "Dockerfile", Config(unsafe_fixes=True, select=("HD101",)))
    assert result.fixed == text
    skips = [s.reason for s in result.skipped if s.rule == "HD101"]
    assert skips and reason in skips[0]


def test_merge_refuses_when_commands_are_not_an_and_list():
    text = "FROM debian:12\nRUN apt-get update\nRUN apt-get install -y curl; echo done\n"
    result = fix_text(text, "Dockerfile", Config(select=("HD102",)))
    assert result.fixed == text
    assert "&& chain" in result.skipped[0].reason


def test_shell_comment_at_end_of_run_blocks_appending():
    text = "FROM debian:12\nUSER 1\nRUN apt-get update && apt-get install -y curl # tools\n"
    result = fix_text(text, "Dockerfile", Config(select=("HD104",)))
    assert result.fixed == text
    assert result.skipped and result.skipped[0].rule == "HD104"


SAFE_FIX_CASES = {
    "sudo under USER root, a quoted URL and a quoted local file": (
        "FROM debian:12\nUSER root\nRUN sudo apt-get update \\\n && sudo apt-get install curl\n"
        'ADD "https://example.com/download" /opt/tool\nADD "app.conf" /etc/app/\nUSER 1000\n',
        "FROM debian:12\nUSER root\nRUN sudo apt-get update \\\n && sudo apt-get install -y curl \\\n"
        ' && rm -rf /var/lib/apt/lists/*\nADD "https://example.com/download" /opt/tool\nCOPY "app.conf" /etc/app/\n'
        "USER 1000\n",
    ),
    "sudo on an unknown base image: prompts fixed, nothing that needs root added": (
        "FROM example.com/dev/workspace:1\nRUN sudo apt-get update && sudo apt-get -q=1 install curl\n",
        "FROM example.com/dev/workspace:1\nRUN sudo apt-get update && sudo apt-get -q=1 install -y curl\n",
    ),
    "dnf5 with a cache mount, then without one": (
        "FROM fedora:41\nRUN --mount=type=cache,target=/var/cache/libdnf5 \\\n    dnf5 install git\n"
        "RUN dnf5 install make\nUSER 1000\n",
        "FROM fedora:41\nRUN --mount=type=cache,target=/var/cache/libdnf5 \\\n    dnf5 install -y git\n"
        "RUN dnf5 install -y make && dnf5 clean all\nUSER 1000\n",
    ),
}


@pytest.mark.parametrize("before,after", SAFE_FIX_CASES.values(), ids=SAFE_FIX_CASES.keys())
def test_safe_fix_cases(before, after):
    assert fixed(before) == after
