"""Where images are named, and what pinning them to a digest would write. No I/O.

Targets are found with exact spans in the file: Dockerfile `FROM` (and the
`ARG` default that feeds it), `COPY --from=<image>`, `RUN --mount=...,from=<image>`,
and compose `image:`. The digests themselves come from the registry client at
the edge and reach the rules through the rule context.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from hardener.images import ImageRef
from hardener.model import Edit

DIGEST = re.compile(r"sha256:[0-9a-f]{64}")  # matched whole (fullmatch): `$` would let a final newline through
_WHOLE_VARIABLE = re.compile(r"^\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))$")


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
        return bool(self.media_type) and ("index" in self.media_type or "manifest.list" in self.media_type)


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


# -- Dockerfiles ---------------------------------------------------------------
def dockerfile_targets(document) -> list[PinTarget]:
    targets: list[PinTarget] = []
    stage_names = {s.alias.lower() for s in document.stages if s.alias}
    for stage in document.stages:
        if stage.parent is None:
            target = _from_target(document, stage)
            if target is not None:
                targets.append(target)
        for instr in stage.instructions:
            if instr.keyword == "COPY":
                for value in instr.flag("from"):
                    if value.lower() not in stage_names and not value.isdigit():
                        targets.append(_flag_target(document, instr, f"--from={value}", value, "COPY --from"))
            elif instr.keyword == "RUN":
                for spec in instr.flag("mount"):
                    parts = dict(p.partition("=")[::2] for p in spec.split(","))
                    value = parts.get("from")
                    if value and value.lower() not in stage_names and not value.isdigit():
                        targets.append(_flag_target(document, instr, f"from={value}", value, "RUN --mount from="))
    return [t for t in targets if t is not None]


def _from_target(document, stage) -> PinTarget | None:
    instr = stage.from_instruction
    base = stage.base
    whole = _WHOLE_VARIABLE.match(base)
    if whole:
        return _arg_target(document, instr, whole.group(1) or whole.group(2))
    if stage.base_resolved is None or "$" in base:
        if ImageRef.parse(stage.base_resolved or base).is_scratch:
            return None
        return PinTarget(
            instr.start_line,
            base,
            0,
            0,
            stage.base_resolved or base,
            "FROM",
            skip="the image is built from variables; pin it where its parts are set",
        )
    ref = ImageRef.parse(base)
    if ref.is_scratch:
        return None
    span = instr.raw_span(0, len(base)) if instr.args.startswith(base) else None
    if span is None:
        return PinTarget(
            instr.start_line, base, 0, 0, base, "FROM", skip="the FROM line is split in a way hardener cannot edit"
        )
    return PinTarget(instr.start_line, base, span[0], span[1], base, "FROM")


def _arg_target(document, from_instr, name: str) -> PinTarget | None:
    """FROM $NAME: pin the default of the global ARG NAME."""
    definition = None
    for instr in document.instructions:
        if instr.keyword == "FROM":
            break
        if instr.keyword == "ARG" and any(v.partition("=")[0] == name for v in instr.value):
            definition = instr
    value = document.global_args.get(name)
    if definition is None or not value:
        return PinTarget(
            from_instr.start_line,
            f"${name}",
            0,
            0,
            f"${name}",
            "FROM",
            skip=f"the image comes from the build argument {name}, which has no default",
        )
    if ImageRef.parse(value).is_scratch:
        return None
    where = f"ARG {name}"
    m = re.search(rf"(?:^|\s){re.escape(name)}=", definition.args)
    if m is None or "$" in value or not definition.args.startswith(value, m.end()):
        return PinTarget(
            definition.start_line,
            value,
            0,
            0,
            value,
            where,
            skip=f"the default of {name} is quoted or built from variables",
        )
    span = definition.raw_span(m.end(), m.end() + len(value))
    if span is None:
        return PinTarget(definition.start_line, value, 0, 0, value, where, skip="the ARG line is split mid-value")
    return PinTarget(definition.start_line, value, span[0], span[1], value, where)


def _flag_target(document, instr, flag_text: str, value: str, where: str) -> PinTarget | None:
    if ImageRef.parse(value).is_scratch:
        return None
    if "$" in value:
        return PinTarget(instr.start_line, value, 0, 0, value, where, skip="the image is built from variables")
    text = instr.logical.text
    at = text.find(flag_text, 0, instr.args_start)
    span = instr.logical.raw_span(at + len(flag_text) - len(value), at + len(flag_text)) if at >= 0 else None
    if span is None:
        return PinTarget(
            instr.start_line, value, 0, 0, value, where, skip="the flag is split in a way hardener cannot edit"
        )
    return PinTarget(instr.start_line, value, span[0], span[1], value, where)


# -- compose files -----------------------------------------------------------------
def compose_targets(document) -> list[PinTarget]:
    targets = []
    seen: set[int] = set()
    holders = None
    for service in document.services:
        node = service.get("image")
        if node is None or service.get("build") is not None or id(node) in seen:
            continue  # with build:, image: names the image being built
        seen.add(id(node))
        if node.kind != "scalar" or not node.value:
            continue
        value = node.value
        if "$" in value:
            targets.append(
                PinTarget(
                    node.line,
                    value,
                    0,
                    0,
                    value,
                    "image",
                    skip="the image name uses ${...} interpolation; pin it where the variable is set",
                )
            )
            continue
        if node.style in ("'", '"'):
            start, end = node.start + 1, node.end - 1
        elif node.style is None:
            start, end = node.start, node.end
        else:
            continue  # a block scalar image name: leave it
        if document.text[start:end] != value:
            targets.append(
                PinTarget(
                    node.line, value, 0, 0, value, "image", skip="the value is escaped in a way hardener cannot edit"
                )
            )
            continue
        holders = _holders(document) if holders is None else holders
        owns = document.owned_keys_of(document.services_using("image", node), "image")
        # Compose keeps x- fields in its model: the anchor's own place, and every mapping that
        # merges it (x-app merging a list anchor's item), show the pinned image too.
        places = tuple(f"{where}.image" for where in holders.get(id(node), ()))
        targets.append(PinTarget(node.line, value, start, end, value, "image", owns=owns + places))
    return targets


def _holders(document) -> dict[int, list[str]]:
    """For each `image:` value node, the paths of the mappings that have it, own or merged."""
    holders: dict[int, list[str]] = {}
    pending, seen = [document.root] if document.root is not None else [], set()
    while pending:
        node = pending.pop()
        if node is None or node.kind == "alias" or id(node) in seen:
            continue
        seen.add(id(node))
        if node.kind == "map":
            image = node.get("image")
            where = document.path_of(node) if image is not None else None
            if where:
                holders.setdefault(id(image.resolved), []).append(where)
            pending.extend(value for _key, value in node.items)
        elif node.kind == "seq":
            pending.extend(node.items)
    return holders


def targets_for(kind: str, document) -> list[PinTarget]:
    if kind == "dockerfile":
        return dockerfile_targets(document)
    if kind == "compose":
        return compose_targets(document)
    if kind == "python":
        return python_targets(document)
    return []


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


# -- Python (docker SDK) -------------------------------------------------------------
def python_targets(document) -> list[PinTarget]:
    """Image string literals passed to containers.run/create."""
    import libcst as cst

    targets = []
    for call in document.calls:
        argument = call.image_argument
        if argument is None or not isinstance(argument.value, cst.SimpleString):
            continue
        value = argument.value.evaluated_value
        start, end = document.span_of(argument.value)
        prefix = len(argument.value.prefix) + len(argument.value.quote)
        inner_start, inner_end = start + prefix, end - len(argument.value.quote)
        if not isinstance(value, str) or document.text[inner_start:inner_end] != value:
            continue  # escapes or raw/bytes strings: leave them
        skip = "the image name is built at run time" if "$" in value or "{" in value else None
        targets.append(PinTarget(argument.line, value, inner_start, inner_end, value, "image", skip=skip))
    return targets
