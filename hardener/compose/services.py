"""Questions rules ask about a compose service."""

from __future__ import annotations

import re
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


def is_fragment(service) -> bool:
    """A service with no image, build or extends: a fragment of an override file that another file defines.

    Its base file gets the hardening fixes; adding them here too would repeat them.
    """
    return service.get("image") is None and service.get("build") is None and service.get("extends") is None


_XMX = re.compile(r"-Xmx(\d+(?:\.\d+)?)([kKmMgG]?)")


def environment_values(service) -> list[tuple[str, str]]:
    """(name, value) of the service's environment, map or list form, as written."""
    node = service.get("environment")
    if node is None:
        return []
    env = node.resolved
    if env.kind == "map":
        return [(k.value, v.resolved.text_value or "") for k, v in env.items if k.kind == "scalar"]
    if env.kind == "seq":
        return [
            tuple(i.resolved.value.split("=", 1))
            for i in env.items
            if i.resolved.kind == "scalar" and "=" in (i.resolved.value or "")
        ]
    return []


def limit_floors(service):
    """The limits the service's own settings imply: a memory reservation, a JVM heap (-Xmx), ulimits nproc."""
    from hardener.policy import Floors, parse_size

    memory, memory_reason, pids, pids_reason = 0.0, "", 0, ""
    deploy = service.get("deploy")
    resources = deploy.resolved.get("resources") if deploy is not None and deploy.resolved.kind == "map" else None
    reservations = (
        resources.resolved.get("reservations") if resources is not None and resources.resolved.kind == "map" else None
    )
    reserved = (
        reservations.resolved.get("memory")
        if reservations is not None and reservations.resolved.kind == "map"
        else None
    )
    for node, what in (
        (reserved, "deploy.resources.reservations.memory"),
        (service.get("mem_reservation"), "mem_reservation"),
    ):
        value = node.text_value if node is not None else None
        if value and "$" not in value and parse_size(value) > memory:
            memory, memory_reason = parse_size(value), f"the service reserves {value} ({what})"
    for name, value in environment_values(service):
        for match in _XMX.finditer(value):
            heap = parse_size(match.group(1) + (match.group(2) or "b"))
            if heap * 1.5 > memory:
                memory = heap * 1.5
                memory_reason = (
                    f"`-Xmx{match.group(1)}{match.group(2)}` in {name}: the heap alone takes that much, and the JVM "
                    "needs about half as much again beside it"
                )
    ulimits = service.get("ulimits")
    nproc = ulimits.resolved.get("nproc") if ulimits is not None and ulimits.resolved.kind == "map" else None
    if nproc is not None:
        node = nproc.resolved
        values = (
            [node.text_value]
            if node.kind == "scalar"
            else [v.resolved.text_value for k, v in node.items if k.value in ("soft", "hard")]
            if node.kind == "map"
            else []
        )
        numbers = [int(v) for v in values if v and v.isdigit()]
        if numbers and max(numbers) > pids:
            pids, pids_reason = max(numbers), f"the service allows {max(numbers)} processes (ulimits nproc)"
    return Floors(memory, memory_reason, pids, pids_reason)


_WRITES = (
    (re.compile(r"(?<![0-9&])>>?\s*(/[^\s;&|)'\"]+)"), "writes to it with a redirection"),
    (re.compile(r"\btee\s+(?:-a\s+)?(/[^\s;&|'\"]+)"), "writes to it with `tee`"),
    (re.compile(r"\bmkdir\s+(?:-\S+\s+)*(/[^\s;&|'\"]+)"), "creates it with `mkdir`"),
    (re.compile(r"\b(?:cp|mv|install)\s+(?:-\S+\s+)*\S+\s+(/[^\s;&|'\"]+)"), "copies to it"),
    (re.compile(r"\bsed\s+-i\S*\s+(?:-e\s+)?(?:'[^']*'|\"[^\"]*\"|\S+)\s+(/[^\s;&|'\"]+)"), "edits it with `sed -i`"),
    (re.compile(r"\btouch\s+(?:-\S+\s+)*(/[^\s;&|'\"]+)"), "creates it with `touch`"),
    (re.compile(r"\bln\s+-\S+\s+\S+\s+(/[^\s;&|'\"]+)"), "links it with `ln`"),
)
# Paths that are never the root file system's: devices, the kernel's, and the usual tmpfs.
_NOT_ROOT_FS = ("/dev", "/proc", "/sys", "/run/secrets")


def command_text(service) -> str:
    """The service's own command and entrypoint, as one text to search."""
    parts = []
    for key in ("entrypoint", "command"):
        node = service.get(key)
        if node is None:
            continue
        value = node.resolved
        if value.kind == "scalar":
            parts.append(value.text_value or "")
        elif value.kind == "seq":
            parts.append(" ".join(i.resolved.text_value or "" for i in value.items))
    return "\n".join(parts)


def writes_outside(service, kept: list[str]) -> tuple[str, str] | None:
    """(path, how) for the first path the service's command writes outside `kept` (volumes, tmpfs), or None."""
    from hardener.policy import is_under

    text = command_text(service)
    for pattern, how in _WRITES:
        for match in pattern.finditer(text):
            path = match.group(1).rstrip("/")
            if any(is_under(path, k) for k in (*kept, *_NOT_ROOT_FS)):
                continue
            return path, how
    return None


def writes_from_repository(service, repository) -> str | None:
    """Where a script, Makefile or CI job of the repository writes into the service's container, or None."""
    names = {service.name}
    container = service.scalar("container_name")
    if container:
        names.add(container)
    pattern = re.compile(r"\bdocker(?:[- ]compose)?\s+(?:-\S+\s+\S+\s+)*?(?P<verb>exec|cp)\b(?P<rest>[^\n]*)")
    for path in sorted(repository.files):
        text = repository.files[path]
        if "docker" not in text or not (
            path.endswith((".sh", ".mk", ".yml", ".yaml")) or "/" not in path or "makefile" in path.lower()
        ):
            continue
        for number, line in enumerate(text.splitlines(), 1):
            match = pattern.search(line)
            if not match:
                continue
            rest = match.group("rest")
            if match.group("verb") == "cp":
                if any(re.search(rf"(?<![\w-]){re.escape(n)}:/", rest) for n in names):
                    return f"`{path}` line {number} copies files into it (`docker cp`)"
                continue
            words = rest.split()
            if not any(n in words for n in names):
                continue
            if any(p.search(rest) for p, _ in _WRITES):
                return f"`{path}` line {number} writes inside it (`docker exec`)"
    return None
