"""Where a Dockerfile names images: `FROM` (and the `ARG` default that feeds it), `COPY --from=`, `RUN --mount=...,from=`."""

from __future__ import annotations

import re

from hardener.images import ImageRef
from hardener.pinning import PinTarget

_WHOLE_VARIABLE = re.compile(r"^\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))$")


def pin_targets(document) -> list[PinTarget]:
    targets: list[PinTarget | None] = []  # None: a scratch image, nothing to pin
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
