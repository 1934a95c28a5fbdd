"""Where docker SDK calls name images: string literals passed to containers.run/create."""

from __future__ import annotations

from hardener.pinning import PinTarget


def pin_targets(document) -> list[PinTarget]:
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
