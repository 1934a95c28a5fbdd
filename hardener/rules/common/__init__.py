"""Rules of every kind: they check the suppression pragmas themselves.

Each module here holds one rule, found from its class like a kind's rules, and `rules_of_kind`
adds them to every kind's own. Their ids are HD0xx, before the kinds' hundreds (HD1xx Dockerfile,
HD2xx compose, HD3xx Python). A rule here reads the pragmas the engine located
(`context.suppressions`) rather than a kind's document model, so it works for any kind.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from hardener.rules.base import Example, Rule

# The `kind` of a rule that applies to every kind.
EVERY_KIND = "all"


class PragmaRule(Rule):
    """A rule about `# hardener: ignore=` pragmas, for every kind of file."""

    kind = EVERY_KIND
    # Off unless selected (by id, name, an id prefix or ALL), as ruff's RUF100 is.
    opt_in: ClassVar[bool] = False
    # Runs after the other rules' findings went through the suppressions, so that
    # `context.suppressions.silenced` says which codes silenced something.
    reads_suppressions: ClassVar[bool] = False
    # Its fixes edit pragma comments only: the kind's checks of the result compare it with the
    # original less those edits (a compose file's check otherwise refuses a comment that went).
    edits_comments: ClassVar[bool] = False
    # Examples in each kind's syntax: kind -> (valid, invalid). `valid` and `invalid` are the Dockerfile ones.
    examples_in: ClassVar[Mapping[str, tuple[tuple[str, ...], tuple[Example, ...]]]] = {}
