"""The images a Dockerfile builds on: FROM lines that name an image, not a stage."""

from __future__ import annotations

import re

from hardener.images import ImageRef

_VARIABLE_NAME = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)")


def external_bases(document):
    """(instruction, reference) for every FROM that names an image, not a stage or scratch.

    FROM lines that take the same image from the same build arguments (`FROM $BASE` twice)
    are one place to change, the ARG: only the first of them is given.
    """
    seen = set()
    for stage in document.stages:
        if stage.parent is not None or not (stage.base_resolved or "").strip():
            continue  # a stage, a variable with no default, or an empty one (BuildKit refuses that)
        if "$" in stage.base:
            key = (stage.base_resolved, frozenset(_VARIABLE_NAME.findall(stage.base)))
            if key in seen:
                continue
            seen.add(key)
        ref = ImageRef.parse(stage.base_resolved)
        if not ref.is_scratch:
            yield stage.from_instruction, ref
