"""Planning a change to one docker SDK call: list keywords that must contain items, keywords to set."""

from __future__ import annotations

from hardener.python.edits import Expression, add_keywords, append_to_list, literal, render


def list_values(call, name: str) -> list | None:
    """The items of a literal list keyword, [] when absent, None when not a literal."""
    argument = call.keyword(name)
    if argument is None:
        return []
    value = literal(argument.value)
    return value if isinstance(value, list) else None


def is_true(call, name: str) -> bool:
    argument = call.keyword(name)
    return argument is not None and literal(argument.value) is True


def image_name(call) -> str | None:
    argument = call.image_argument
    value = literal(argument.value) if argument is not None else None
    return value if isinstance(value, str) else None


def plan_edits(document, call, lists: dict | None = None, scalars: dict | None = None):
    """(edits, reason): keyword lists that must contain items, and keywords set when missing. On a low-level
    `create_container()` call, host settings go into its `create_host_config(...)`."""
    if call.has_star_kwargs:
        return [], "the call passes **kwargs, which may already set these"
    edits: list = []
    new: dict[int, tuple] = {}  # {id(target call): (target call, {keyword: value})}
    host_settings: dict = {}  # for a low-level call that passes no host config: a new one holds them

    def add(name, value):
        target, keyword = call.owner_of(name)
        if target is None:
            host_settings[keyword] = value
        else:
            new.setdefault(id(target), (target, {}))[1][keyword] = value
        return None

    for name, items in (lists or {}).items():
        argument = call.keyword(name)
        if argument is None:
            reason = add(name, list(items))
            if reason:
                return [], reason
            continue
        present = literal(argument.value)
        if not isinstance(present, list):
            return [], f"`{argument.name}` is not a literal list"
        missing = [i for i in items if i not in present]
        if missing:
            edit = append_to_list(document, argument.value, missing)
            if edit is None:
                return [], f"`{argument.name}` is not a literal list"
            edits.append(edit)
    for name, value in (scalars or {}).items():
        if call.keyword(name) is None:
            reason = add(name, value)
            if reason:
                return [], reason
    if host_settings:
        settings = ", ".join(f"{k}={render(document, v)}" for k, v in host_settings.items())
        own = new.setdefault(id(call), (call, {}))[1]
        own["host_config"] = Expression(f"{call.client}.create_host_config({settings})")
    for target, keywords in new.values():
        more = add_keywords(document, target, keywords)
        if more is None:
            return [], "the call's arguments cannot be extended safely"
        edits.extend(more)
    return edits, None
