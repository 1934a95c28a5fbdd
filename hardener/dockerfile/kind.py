"""Dockerfiles (and Containerfiles): parsed with BuildKit's own parser."""

from __future__ import annotations

import re
from collections import Counter

from hardener.kinds import FileKind
from hardener.model import VerificationError

# Instructions fixes may change, add or remove.
_EDITED_INSTRUCTIONS = frozenset({"RUN", "ADD", "COPY", "USER"})
_DIGEST_SUFFIX = re.compile(r"@sha256:[0-9a-f]{64}")
_STEMS = ("dockerfile", "containerfile")
_OTHER_FILES = "go py js ts rs rb java kt sh ps1 yml yaml toml xml html el".split()


class DockerfileKind(FileKind):
    name = "dockerfile"
    document_bytes_per_char = 10
    # Dockerfile and its variants: Dockerfile.prod, Dockerfile-prod, Dockerfile_prod, prod.Dockerfile.
    patterns = (
        *_STEMS,
        *(f"{stem}{separator}*" for stem in _STEMS for separator in ".-_"),
        *(f"*.{stem}" for stem in _STEMS),
    )
    # A dash or underscore variant that ends in another language's extension is that language's file:
    # dockerfile_test.go, dockerfile-lint.yml, dockerfile_parser.py.
    not_patterns = tuple(f"{stem}{separator}*.{ext}" for stem in _STEMS for separator in "-_" for ext in _OTHER_FILES)
    plural = "Dockerfiles"
    parsed_with = "with BuildKit's parser"

    def parse(self, text: str, path: str):
        from hardener.dockerfile.document import DockerfileDocument

        return DockerfileDocument(text, path)

    def verify(self, before, after) -> None:
        if before.directives != after.directives:
            raise VerificationError("parser directives changed")
        if _heredoc_bodies(before) != _heredoc_bodies(after):
            raise VerificationError("a heredoc body changed")
        # Instructions hardener never edits must come out as they went in, in order,
        # and every COPY must still be there (new ones come from ADD).
        # Pinning adds @sha256:... to references; nothing else may differ.
        if _untouched(before) != _untouched(after) or _copies(before) - _copies(after):
            raise VerificationError("an instruction no fix touches changed")

    def pin_targets(self, document):
        from hardener.dockerfile.pins import pin_targets

        return pin_targets(document)


def _heredoc_bodies(document) -> Counter:
    return Counter(h for i in document.instructions for h in i.heredocs)


def _untouched(document) -> list:
    return [
        # A trigger's RUN is edited as a RUN is (HD117): it must still be there, and still a RUN.
        ("ONBUILD RUN",) if _is_trigger_run(i) else (i.keyword, _unpinned(i.flags), _unpinned(i.value))
        for i in document.instructions
        if i.keyword not in _EDITED_INSTRUCTIONS
    ]


def _is_trigger_run(instr) -> bool:
    return instr.keyword == "ONBUILD" and instr.args.lstrip()[:4].upper() in ("RUN ", "RUN\t")


def _copies(document) -> Counter:
    return Counter((_unpinned(i.flags), _unpinned(i.value)) for i in document.instructions if i.keyword == "COPY")


def _unpinned(values: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(_DIGEST_SUFFIX.sub("", v) for v in values)


KIND = DockerfileKind()
