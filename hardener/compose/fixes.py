"""Changes to a service, planned as edits: add list items, add nested keys.

Each function returns (edit, None) or (None, reason). Keys a service gets
from a merged anchor (`<<: *common`) are respected: a list it inherits is
copied into the service's own key with the new items, so the other users of
the anchor are not changed.
"""

from __future__ import annotations

from dataclasses import dataclass

from hardener.compose.document import Service
from hardener.compose.edits import add_keys, append_items


def same_entry(value: str) -> str:
    """Entries Compose treats alike: CAP_CHOWN is CHOWN, /var/run/ is /var/run, case aside."""
    value = value.strip().upper()
    value = value[4:] if value.startswith("CAP_") else value
    return value.rstrip("/") or value


def _why_not_editable(service) -> str | None:
    if service.is_alias:
        return f"the service is an alias (*{service.node.value}) of a mapping other services may share"
    return None


def ensure_lists(document, service, wanted: dict[str, list[str]], style, scalars: dict | None = None):
    """Make each service[key] a list holding the wanted items, and set missing scalar keys.

    Returns (edits, reason). Keys that are missing are added together in one
    insertion, so their order is the order given.
    """
    reason = _why_not_editable(service)
    if reason:
        return [], reason
    edits = []
    new_keys: dict = {k: v for k, v in (scalars or {}).items() if service.get(k) is None}
    for key, items in wanted.items():
        own = service.node.own(key)
        if own is not None:
            value = own[1]
            if value.kind == "alias":
                return [], f"`{key}` is an alias (*{value.value}) shared with other services"
            if value.tag:
                return [], f"`{key}` carries the tag {value.tag}, which changes what Compose does with it"
            if value.kind != "seq":
                return [], f"`{key}` is not a list"
            present = {same_entry(i.text_value or "") for i in value.items}
            missing = [i for i in items if same_entry(i) not in present]
            if missing:
                edit = append_items(document, value, [style.word(i) for i in missing])
                if edit is None:
                    return [], f"`{key}` is laid out in a way hardener cannot extend"
                edits.append(edit)
            continue
        inherited = service.get(key)
        entries: list[str] = []
        if inherited is not None:
            if inherited.resolved.kind != "seq" or inherited.resolved.tag:
                return [], f"`{key}` comes from an anchor and is not a plain list"
            for item in inherited.resolved.items:
                raw = document.text[item.start : item.end]
                if "\n" in raw or item.kind == "alias" or item.anchor:
                    return (
                        [],
                        f"`{key}` comes from an anchor with items hardener cannot copy (aliases, anchors, multi-line)",
                    )
                entries.append(raw)
        present = {same_entry(e.strip("'\"")) for e in entries}
        entries += [style.word(i) for i in items if same_entry(i) not in present]
        new_keys[key] = entries
    if new_keys:
        edit = add_keys(document, service.mapping, new_keys, style)
        if edit is None:
            return [], "the service mapping is laid out in a way hardener cannot extend"
        edits.append(edit)
    return edits, None


def ensure_keys(document, service, path: list[str], values: dict, style):
    """Add values under service.path[0].path[1]... creating the mappings that are missing."""
    reason = _why_not_editable(service)
    if reason:
        return None, reason
    node = service.node
    for depth, key in enumerate(path):
        own = node.own(key)
        if own is None:
            if node.get(key) is not None:
                return (
                    None,
                    f"`{'.'.join(path[: depth + 1])}` comes from an anchor; changing it here would drop the rest",
                )
            nested: dict = values
            for inner in reversed(path[depth + 1 :]):
                nested = {inner: nested}
            edit = add_keys(document, node.resolved, {key: nested}, style)
            return (edit, None) if edit else (None, "the mapping is laid out in a way hardener cannot extend")
        value = own[1]
        if value.kind == "alias":
            return None, f"`{'.'.join(path[: depth + 1])}` is an alias shared with other services"
        if value.kind != "map":
            return None, f"`{'.'.join(path[: depth + 1])}` is not a mapping"
        node = value
    missing = {k: v for k, v in values.items() if node.own(k) is None}
    if not missing:
        return None, None
    edit = add_keys(document, node, missing, style)
    return (edit, None) if edit else (None, "the mapping is laid out in a way hardener cannot extend")


@dataclass(frozen=True)
class Plan:
    """The change a service needs, comparable between services."""

    lists: tuple[tuple[str, tuple[str, ...]], ...] = ()  # key -> items it must contain
    scalars: tuple[tuple[str, str], ...] = ()  # key -> value, set when missing
    nested: tuple[str, ...] = ()  # when set, scalars go under this path (deploy.resources.limits)
    keys: tuple[str, ...] = ()  # the service keys this change owns


def _merged_service_with_same_change(document, service, plan: Plan, plan_for):
    """The service whose anchored mapping this one merges (`<<: *web`) and that gets the same change
    itself: the keys then reach this service through the merge, and adding them here too would repeat them."""
    if any(service.node.own(key) is not None for key in plan.keys):
        return None
    sources = {id(m) for m in service.node.merge_sources()}
    if not sources:  # the usual case: nothing merged, and no need to look at every other service
        return None
    for other in document.standalone_services:
        if other is not service and id(other.mapping) in sources and not other.is_alias:
            if plan_for(other) == plan:
                return other
    return None


def apply_plan(document, service, plan: Plan, config, plan_for):
    """Edits for a plan, the reason there are none, and the model paths they own.

    A change to a service's mapping reaches every service that shares it (an
    alias, a merge, an `extends`), so it is made only when each of them needs
    exactly the same change (`plan_for(other)`). With `anchor-fixes = "shared"`,
    a service that merges one anchored mapping gets the change in that mapping
    instead, under the same condition.
    """
    if document.extends_other_file(service):
        return [], "the service extends a service in another file, whose settings hardener cannot see", ()
    source = _merged_service_with_same_change(document, service, plan, plan_for)
    if source is not None:
        return [], f"it merges `{source.name}`, which gets the same change and passes it on", ()
    owners = document.sharers(service.mapping)
    different = [u.name for u in owners if u is not service and plan_for(u) != plan]
    if different:
        names = ", ".join(different[:3]) + (" ..." if len(different) > 3 else "")
        return [], f"its settings are shared with {names} (anchor, alias or extends), which need a different change", ()
    target = service
    if config.anchor_fixes == "shared" and not service.is_alias:
        sources = service.node.merge_sources()
        users = document.sharers(sources[0]) if len(sources) == 1 else []
        if users and all(plan_for(user) == plan for user in users):
            target = Service(service.name, service.key, sources[0])
            owners = users
    style = document.style.for_mapping(target.mapping)
    if plan.nested:
        edit, reason = ensure_keys(document, target, list(plan.nested), dict(plan.scalars), style)
        edits = [edit] if edit else []
    else:
        edits, reason = ensure_lists(document, target, {k: list(v) for k, v in plan.lists}, style, dict(plan.scalars))
    owns = document.owned_keys_of(owners, *plan.keys)
    if target is not service or target.mapping.anchor:
        # Compose keeps x- fields in its model: an anchored mapping's own place changes too.
        where = document.path_of(target.mapping)
        owns += tuple(f"{where}.{key}" for key in plan.keys) if where else ()
    return edits, reason, owns
