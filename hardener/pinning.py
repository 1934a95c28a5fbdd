"""Where images are named, and what pinning them to a digest would write. No I/O.

Each file kind finds its targets, with exact spans, in its own `pins` module (Dockerfile `FROM`
and the `ARG` default that feeds it, `COPY --from=`, `RUN --mount=...,from=`; compose `image:`;
image literals passed to the docker SDK). The digests themselves come from the registry client at
the edge and reach the rules through the rule context.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from hardener.images import ImageRef
from hardener.model import Edit

DIGEST = re.compile(r"sha256:[0-9a-f]{64}")  # matched whole (fullmatch): `$` would let a final newline through


@dataclass(frozen=True)
class Resolution:
    """What the registry said about one reference."""

    key: str
    digest: str | None = None
    media_type: str | None = None
    error: str | None = None  # why there is no digest
    cached: bool = False

    @property
    def multi_arch(self) -> bool:
        media_type = self.media_type or ""
        return "index" in media_type or "manifest.list" in media_type


@dataclass(frozen=True)
class PinTarget:
    line: int
    text: str  # the reference exactly as written, to be replaced by text@digest
    start: int
    end: int
    reference: str  # the reference with build arguments substituted
    where: str  # FROM, ARG NAME, COPY --from, RUN --mount from=, image
    skip: str | None = None  # why it cannot be pinned
    owns: tuple[str, ...] = ()  # compose model paths the pin changes

    @property
    def key(self) -> str:
        return reference_key(self.reference)

    @property
    def ref(self) -> ImageRef:
        return ImageRef.parse(self.reference)


def reference_key(reference: str) -> str:
    """docker.io/library/python:latest for `python`: one key per image the registry knows."""
    ref = ImageRef.parse(reference)
    return f"{ref.registry}/{ref.repository}:{ref.tag or 'latest'}"


def floating_note(ref: ImageRef) -> str:
    if ref.tag is None:
        return " (untagged: it means `latest`, which moves; name a version tag too)"
    if ref.tag == "latest":
        return " (`latest` moves; name a version tag too)"
    return ""


def needs_resolution(target: PinTarget) -> bool:
    """A target that a digest would let hardener pin."""
    ref = target.ref
    return target.skip is None and ref.digest is None


def pin_findings(rule, targets, digests):
    """Findings for unpinned targets; each carries the edit when the digest is known."""
    for target in targets:
        ref = target.ref
        if ref.digest is not None:
            if target.skip is None and not DIGEST.fullmatch(ref.digest):
                yield rule.finding(
                    target.line, f"{target.where} `{target.text}` has a malformed digest (expected sha256:<64 hex>)"
                )
            continue
        message = f"{target.where} `{target.text}` is not pinned to a digest{floating_note(ref)}"
        if target.skip:
            yield rule.finding(target.line, message, fix_unavailable=target.skip)
            continue
        resolution = digests.get(target.key)
        if resolution is None:
            yield rule.finding(
                target.line,
                message,
                fix_unavailable="no digest known: resolving needs the registry (not --offline) or a cache entry",
            )
        elif resolution.digest is None:
            yield rule.finding(target.line, message, fix_unavailable=resolution.error or "the registry gave no digest")
        elif not DIGEST.fullmatch(resolution.digest):
            # The edge checks digests too; an edit must never carry anything but the digest itself.
            yield rule.finding(target.line, message, fix_unavailable="the digest found is not sha256:<64 hex>")
        else:
            kind = "multi-arch index" if resolution.multi_arch else "single-platform image"
            yield rule.finding(
                target.line,
                message,
                edits=[Edit(target.start, target.end, f"{target.text}@{resolution.digest}")],
                description=f"pinned `{target.text}` to its {kind} digest {resolution.digest[:19]}…",
                owns=target.owns,
            )
