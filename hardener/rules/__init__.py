"""The rules: found from their classes, one kind at a time, and chosen by the settings.

Each kind's rules are the `Rule` subclasses in the modules of `hardener/<kind>/rules/`; the class
is the only place a rule's id, name, tier and references are written. A kind's rules are imported
only when a file of that kind is in the run (or a listing needs them), so start-up stays light.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil

from hardener.config import Config
from hardener.kinds import KIND_MODULES, kind_named
from hardener.rules.base import Rule


@functools.cache
def rules_of_kind(kind: str) -> tuple[type[Rule], ...]:
    """Every rule class of one kind, in id order."""
    package = importlib.import_module(kind_named(kind).rules_package)
    found: dict[str, type[Rule]] = {}
    for module_info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"{package.__name__}.{module_info.name}")
        for value in vars(module).values():
            # A rule is a concrete Rule subclass defined in its own module (not one imported there).
            if isinstance(value, type) and issubclass(value, Rule) and value.__module__ == module.__name__:
                if getattr(value, "id", None):
                    found[value.id] = value
    return tuple(found[rule_id] for rule_id in sorted(found))


def all_rules() -> tuple[type[Rule], ...]:
    """Every rule of every kind, in id order (listings, documentation, SARIF)."""
    return tuple(sorted((r for kind in KIND_MODULES for r in rules_of_kind(kind)), key=lambda r: r.id))


def __getattr__(name: str):
    if name == "ALL_RULES":
        return all_rules()
    raise AttributeError(name)


def rule_by_selector(selector: str) -> type[Rule] | None:
    """The rule named exactly by id or name."""
    s = selector.strip()
    return next((r for r in all_rules() if r.id == s.upper() or r.name == s.lower()), None)


def validate_selectors(selectors: tuple[str, ...]) -> str | None:
    """The first selector that matches no rule, if any (a kind's rules load only while still looking)."""
    return next(
        (s for s in selectors if not any(r.matches(s) for kind in KIND_MODULES for r in rules_of_kind(kind))), None
    )


def selected_rules(config: Config, kind: str) -> list[Rule]:
    chosen = []
    for rule in rules_of_kind(kind):
        if config.select:
            if not any(rule.matches(s) for s in config.select):
                continue
        elif rule.requires_setting and not getattr(config, rule.requires_setting):
            continue  # a rule that needs a setting (a list of trusted registries) is off without it
        if any(rule.matches(s) for s in config.ignore):
            continue
        chosen.append(rule())
    return chosen
