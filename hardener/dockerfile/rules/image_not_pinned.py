from __future__ import annotations

import re

from hardener.dockerfile.pins import pin_targets
from hardener.model import Severity, Tier
from hardener.pinning import pin_findings
from hardener.rules.base import Example, Rule

_INDEX = "sha256:" + "a" * 64
_VARIABLE_NAME = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)")
_OTHER = "sha256:" + "b" * 64


class ImageNotPinned(Rule):
    id = "HD112"
    name = "image-not-pinned"
    kind = "dockerfile"
    summary = "Pin images to their multi-arch digest, keeping the tag"
    severity = Severity.WARNING
    tier = Tier.SAFE
    pins_images = True
    rationale = (
        "A tag is a pointer its publisher can move: the same Dockerfile builds a different image tomorrow, "
        "and a compromised registry account ships straight into your build. A digest makes the build "
        "reproducible and tamper-evident. hardener writes `name:tag@sha256:<digest>` (the form Renovate, "
        "Dependabot and OpenSSF Scorecard read and keep up to date), with the digest of the multi-arch index "
        "so every platform still builds. It pins FROM, the ARG default that feeds a FROM, COPY --from=<image> "
        "and RUN --mount=from=<image>; not scratch, stage names or references built from variables."
    )
    references = (
        "CIS Docker Benchmark v1.6 4.2",
        "CIS Docker Benchmark v1.6 5.28",
        "OpenSSF Scorecard Pinned-Dependencies",
    )
    valid = (
        f"FROM python:3.12-slim@{_INDEX}\n",
        "FROM scratch\n",
        f"FROM golang:1.23@{_INDEX} AS build\nFROM build\nCOPY --from=build /app /app\n",
    )
    invalid = (
        Example(
            "FROM python:3.12-slim AS app\nCOPY --from=busybox:1.36 /bin/busybox /busybox\n",
            f"FROM python:3.12-slim@{_INDEX} AS app\nCOPY --from=busybox:1.36@{_OTHER} /bin/busybox /busybox\n",
            digests=(("python:3.12-slim", _INDEX), ("busybox:1.36", _OTHER)),
        ),
        Example(
            "ARG BASE=redis:7\nFROM $BASE\n",
            f"ARG BASE=redis:7@{_INDEX}\nFROM $BASE\n",
            digests=(("redis:7", _INDEX),),
        ),
        Example(
            "ARG BASE=redis:7\nFROM $BASE AS build\nFROM ${BASE}\n",
            f"ARG BASE=redis:7@{_INDEX}\nFROM $BASE AS build\nFROM ${{BASE}}\n",
            digests=(("redis:7", _INDEX),),
        ),
        Example("FROM python:${PY}-slim\n", None),
        Example("FROM python@sha256:123\n", None),
    )

    def check(self, document, context):
        yield from pin_findings(self, _once(pin_targets(document)), context.digests)


def _once(targets):
    """A global ARG feeding several FROM lines is one place to pin: each is reported once.

    That holds for the ARG's own line and for FROM lines that build the same image
    from the same build arguments (`FROM python:${PY}-slim` twice).
    """
    found = {}
    for t in targets:
        if t.where == "FROM" and "$" in t.text:
            key = (t.where, t.reference, frozenset(_VARIABLE_NAME.findall(t.text)), t.skip)
        else:
            key = (t.line, t.where, t.start, t.end, t.text, t.skip)
        found.setdefault(key, t)
    return list(found.values())
