"""Questions rules ask about a compose service."""

from __future__ import annotations

from dataclasses import dataclass

from hardener.compose.document import image_name

TRUE = ("true", "yes", "on")


def list_values(service, key: str) -> list[str]:
    """The string items of a list-valued key (own or merged)."""
    node = service.get(key)
    if node is None or node.resolved.kind != "seq":
        return []
    return [i.text_value for i in node.resolved.items if i.text_value is not None]


def is_true(service, key: str) -> bool:
    value = service.scalar(key)
    return value is not None and value.lower() in TRUE


def maybe_true(service, key: str) -> bool:
    """True, or set from a variable that could make it true (so hardener treats it as true)."""
    value = service.scalar(key)
    return value is not None and (value.lower() in TRUE or "$" in value)


def image(service) -> str | None:
    return image_name(service.scalar("image"))


def described_image(service) -> str:
    """How a finding names what a service runs."""
    name = image(service)
    return f"image `{name}`" if name else "a service built from a Dockerfile"


def split_colons(value: str) -> list[str]:
    """Split short syntax on ':' but not inside ${VAR:-default} interpolation."""
    parts, depth, current = [], 0, ""
    for i, ch in enumerate(value):
        if ch == "{" and value[i - 1 : i] == "$":
            depth += 1
        elif ch == "}" and depth:
            depth -= 1
        if ch == ":" and not depth:
            parts.append(current)
            current = ""
        else:
            current += ch
    return [*parts, current]


@dataclass(frozen=True)
class Mount:
    source: str | None
    target: str
    node: object


def mounts(service) -> list[Mount]:
    """Volumes in short ("src:dst:ro") or long ({source, target}) syntax."""
    node = service.get("volumes")
    if node is None or node.resolved.kind != "seq":
        return []
    out = []
    for item in node.resolved.items:
        item = item.resolved
        if item.kind == "scalar":
            parts = split_colons(item.value)
            if len(parts) == 1:
                out.append(Mount(None, parts[0], item))
            else:
                out.append(Mount(parts[0], parts[1], item))
        elif item.kind == "map":
            target = item.get("target")
            source = item.get("source")
            if target is not None and target.text_value:
                out.append(Mount(source.text_value if source is not None else None, target.text_value, item))
    return out


@dataclass(frozen=True)
class Published:
    host_ip: str | None
    published: str
    target: str
    node: object


def published_ports(service) -> list[Published]:
    """Ports published on the host, with the interface they bind to (None: all)."""
    node = service.get("ports")
    if node is None or node.resolved.kind != "seq":
        return []
    out = []
    for item in node.resolved.items:
        item = item.resolved
        if item.kind == "scalar":
            value = item.value.rsplit("/", 1)[0]
            if value.startswith("["):  # [::1]:8080:80
                host, _, rest = value[1:].partition("]:")
                published, _, target = rest.partition(":")
                out.append(Published(host, published, target, item))
                continue
            parts = value.split(":")
            if len(parts) == 3:
                out.append(Published(parts[0], parts[1], parts[2], item))
            elif len(parts) == 2:
                out.append(Published(None, parts[0], parts[1], item))
            else:
                out.append(Published(None, "", parts[0], item))  # a random host port, on all interfaces
        elif item.kind == "map":
            host = item.get("host_ip")
            target = item.get("target")
            published = item.get("published")
            out.append(
                Published(
                    host.text_value if host is not None else None,
                    published.text_value if published is not None else "",
                    target.text_value if target is not None else "",
                    item,
                )
            )
    return out


def once_per_place(found):
    """(service, node, ...) tuples, keeping the first service for a node that several share.

    A value in an anchor, or in a service others extend, is one place in the
    file and gets one finding.
    """
    seen: set[int] = set()
    for entry in found:
        if id(entry[1]) not in seen:
            seen.add(id(entry[1]))
            yield entry
