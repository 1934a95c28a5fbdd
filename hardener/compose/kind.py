"""Compose files: located with a YAML event parser, checked with Docker Compose itself."""

from __future__ import annotations

from collections import Counter

from hardener.kinds import FileKind
from hardener.model import VerificationError

_STEMS = ("compose", "docker-compose")
_YAML = ("yaml", "yml")


class ComposeKind(FileKind):
    name = "compose"
    document_bytes_per_char = 60
    # compose.yaml and docker-compose.yml, and their variants as real repositories name them:
    # compose.prod.yaml, compose-prod.yaml, compose_prod.yaml, prod.compose.yaml (and the same for docker-compose).
    patterns = (
        *(f"{stem}.{ext}" for stem in _STEMS for ext in _YAML),
        *(f"{stem}{separator}*.{ext}" for stem in _STEMS for separator in ".-_" for ext in _YAML),
        *(f"*.{stem}.{ext}" for stem in _STEMS for ext in _YAML),
    )
    named_suffixes = (".yaml", ".yml")
    plural = "Compose files"
    parsed_with = "as YAML"
    external_check_name = "Docker Compose"

    def extra_patterns(self, config):
        return config.compose_files if config is not None else ()

    def parse(self, text: str, path: str):
        from hardener.compose.document import ComposeDocument

        return ComposeDocument(text, path)

    def verify(self, before, after) -> None:
        if set(before.anchors) != set(after.anchors) or len(before.aliases) != len(after.aliases):
            raise VerificationError("an anchor or alias changed")
        if _comments(before) - _comments(after):
            raise VerificationError("a comment was lost")

    def pin_targets(self, document):
        from hardener.compose.pins import pin_targets

        return pin_targets(document)

    def has_external_check(self, config) -> bool:
        return bool(config.compose_check)

    def external_check(self, original, fixed, path, applied):
        """Docker Compose reads the original and the fixed file; only what the fixes own may differ."""
        from hardener.compose import validate

        return validate.check(original, fixed, path, applied)


def _comments(document) -> Counter:
    return Counter(line.strip() for line in document.text.splitlines() if line.lstrip().startswith("#"))


KIND = ComposeKind()
