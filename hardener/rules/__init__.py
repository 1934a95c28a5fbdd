"""The rules: found from their classes, one kind at a time, and chosen by the settings.

Each kind's rules are the `Rule` subclasses in the modules of `hardener/<kind>/rules/`; the class
is the only place a rule's id, name, tier and references are written. Rules about the suppression
pragmas themselves apply to every kind: they live in `hardener/rules/common/` and join each kind's
own (`rules_for`). A kind's rules are imported only when a file of that kind is in the run (or a listing needs
them), so start-up stays light.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil

from hardener.config import Config
from hardener.kinds import KIND_MODULES, kind_named
from hardener.rules.base import Rule

# Rules every kind has (about the suppression pragmas themselves), one module each.
COMMON_RULES_PACKAGE = "hardener.rules.common"


def _rules_in(package_name: str) -> dict[str, type[Rule]]:
    package = importlib.import_module(package_name)
    found: dict[str, type[Rule]] = {}
    for module_info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"{package.__name__}.{module_info.name}")
        for value in vars(module).values():
            # A rule is a concrete Rule subclass defined in its own module (not one imported there).
            if isinstance(value, type) and issubclass(value, Rule) and value.__module__ == module.__name__:
                if getattr(value, "id", None):
                    found[value.id] = value
    return found


@functools.cache
def rules_of_kind(kind: str) -> tuple[type[Rule], ...]:
    """Every rule class of one kind's own package, in id order."""
    found = _rules_in(kind_named(kind).rules_package)
    return tuple(found[rule_id] for rule_id in sorted(found))


@functools.cache
def common_rules() -> tuple[type[Rule], ...]:
    """The rules every kind has, in id order."""
    found = _rules_in(COMMON_RULES_PACKAGE)
    return tuple(found[rule_id] for rule_id in sorted(found))


def rules_for(kind: str) -> tuple[type[Rule], ...]:
    """The rules that check a file of this kind: its own and those of every kind, in id order."""
    return tuple(sorted((*common_rules(), *rules_of_kind(kind)), key=lambda r: r.id))


def all_rules() -> tuple[type[Rule], ...]:
    """Every rule, each once, in id order (listings, documentation, SARIF)."""
    return tuple(
        sorted((*common_rules(), *(r for kind in KIND_MODULES for r in rules_of_kind(kind))), key=lambda r: r.id)
    )


def examples_by_kind(rule: type[Rule]) -> dict[str, tuple[tuple[str, ...], tuple]]:
    """A rule's (valid, invalid) examples by the kind whose syntax they are written in.

    A rule of one kind has its `valid` and `invalid`; a rule of every kind may have examples in
    each kind's syntax too (`examples_in`), its `valid` and `invalid` being one kind's.
    """
    return dict(getattr(rule, "examples_in", None) or {rule.kind: (rule.valid, rule.invalid)})


def __getattr__(name: str):
    if name == "ALL_RULES":
        return all_rules()
    raise AttributeError(name)


def rule_by_selector(selector: str) -> type[Rule] | None:
    """The rule named exactly by id or name."""
    s = selector.strip()
    return next((r for r in all_rules() if r.id == s.upper() or r.name == s.lower()), None)


def validate_selectors(selectors: tuple[str, ...], first_kind: str | None = None) -> str | None:
    """The first selector that matches no rule, if any (a kind's rules load only while still looking).

    `first_kind` is looked in first: a file's own kind answers for the codes it names.
    """
    kinds = sorted(KIND_MODULES, key=lambda kind: kind != first_kind)
    return next(
        (
            s
            for s in selectors
            if not any(r.matches(s) for r in common_rules())
            and not any(r.matches(s) for kind in kinds for r in rules_of_kind(kind))
        ),
        None,
    )


def selected_rules(config: Config, kind: str) -> list[Rule]:
    chosen = []
    for rule in rules_for(kind):
        if config.select:
            if not any(rule.matches(s) for s in config.select):
                continue
        elif getattr(rule, "opt_in", False):
            continue  # a rule that is off unless selected (by id, name, prefix or ALL)
        elif rule.requires_setting and not getattr(config, rule.requires_setting):
            continue  # a rule that needs a setting (a list of trusted registries) is off without it
        if any(rule.matches(s) for s in config.ignore):
            continue
        chosen.append(rule())
    return chosen
