"""Where a compose file names images: `image:` values, with the model paths a pin changes."""

from __future__ import annotations

from hardener.pinning import PinTarget


def pin_targets(document) -> list[PinTarget]:
    targets = []
    seen: set[int] = set()
    holders = None
    for service in document.services:
        node = service.get("image")
        if node is None or service.get("build") is not None or id(node) in seen:
            continue  # with build:, image: names the image being built
        seen.add(id(node))
        if node.kind != "scalar" or not node.value:
            continue
        value = node.value
        if "$" in value:
            targets.append(
                PinTarget(
                    node.line,
                    value,
                    0,
                    0,
                    value,
                    "image",
                    skip="the image name uses ${...} interpolation; pin it where the variable is set",
                )
            )
            continue
        if node.style in ("'", '"'):
            start, end = node.start + 1, node.end - 1
        elif node.style is None:
            start, end = node.start, node.end
        else:
            continue  # a block scalar image name: leave it
        if document.text[start:end] != value:
            targets.append(
                PinTarget(
                    node.line, value, 0, 0, value, "image", skip="the value is escaped in a way hardener cannot edit"
                )
            )
            continue
        holders = _holders(document) if holders is None else holders
        owns = document.owned_keys_of(document.services_using("image", node), "image")
        # Compose keeps x- fields in its model: the anchor's own place, and every mapping that
        # merges it (x-app merging a list anchor's item), show the pinned image too.
        places = tuple(f"{where}.image" for where in holders.get(id(node), ()))
        targets.append(PinTarget(node.line, value, start, end, value, "image", owns=owns + places))
    return targets


def _holders(document) -> dict[int, list[str]]:
    """For each `image:` value node, the paths of the mappings that have it, own or merged."""
    holders: dict[int, list[str]] = {}
    pending, seen = [document.root] if document.root is not None else [], set()
    while pending:
        node = pending.pop()
        if node is None or node.kind == "alias" or id(node) in seen:
            continue
        seen.add(id(node))
        if node.kind == "map":
            image = node.get("image")
            where = document.path_of(node) if image is not None else None
            if where:
                holders.setdefault(id(image.resolved), []).append(where)
            pending.extend(value for _key, value in node.items)
        elif node.kind == "seq":
            pending.extend(node.items)
    return holders
