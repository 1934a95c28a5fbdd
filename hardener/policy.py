"""What hardening a container means, decided once for compose services and docker SDK calls alike.

The compose rules (HD2xx) and their docker SDK twins (HD3xx) ask here which capabilities, writable
paths, user and limits a container gets; each renders the answer in its own syntax. The image
knowledge behind the answers is data (`hardener/data/images.toml`, and a settings file's own
`image-knowledge`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hardener.config import Config
    from hardener.images import RuntimeNeeds

# Sockets that give whoever can open them control of the container engine, and so of the host.
SOCKETS = ("/var/run/docker.sock", "/run/docker.sock", "/var/run/podman/podman.sock", "/run/containerd/containerd.sock")


def image_needs(image: str | None, config: Config) -> RuntimeNeeds | None:
    """What the image is known to need at run time, or None when hardener does not know it."""
    from hardener.images import runtime_needs

    return runtime_needs(image, config.image_capabilities, config.image_entries)


def capabilities_to_add(image: str | None, config: Config) -> tuple[str, ...] | None:
    """The capabilities to add back after dropping ALL, or None to leave them (the image's needs are unknown)."""
    needs = image_needs(image, config)
    if needs is None:
        return () if config.drop_capabilities_of_unknown_images else None
    return needs.cap_add


def is_under(path: str, folder: str) -> bool:
    """`path` is `folder` or lies below it (every path lies below `/`)."""
    folder = folder.rstrip("/") or "/"
    return path == folder or path.startswith(folder + "/") or folder == "/"


def writable_paths(image: str | None, config: Config, mounted: Iterable[str]) -> tuple[str, ...] | None:
    """The paths to keep writable as tmpfs under a read-only root, or None when they are unknown.

    Never a path over or under a mount (`mounted`: the container's volume and bind targets), nor over or
    under one of the image's data folders: a tmpfs there would hide or lose data.
    """
    needs = image_needs(image, config)
    if needs is None or needs.writable is None:
        return None
    kept = [*mounted, *needs.data]
    return tuple(p for p in needs.writable if not any(is_under(p, k) or is_under(k, p) for k in kept))


def non_root_user(image: str | None, config: Config) -> str | None:
    """The user to start the image as, when it is known to run correctly as that user and does not already."""
    if not image:
        return None
    from hardener.images import ImageRef, profile_for

    needs = image_needs(image, config)
    if needs is None or needs.user is None:
        return None
    profile = profile_for(ImageRef.parse(image), config.image_entries)
    return None if profile is not None and profile.runs_as_non_root else needs.user


@dataclass(frozen=True)
class Limits:
    """The resource limits a container gets: memory in Docker's units, CPUs as a decimal, a pids count,
    and what they rest on (the image's class, the settings, a floor the repository sets)."""

    memory: str
    cpus: str | None  # None: not limited (measured limits without a class or setting for CPU)
    pids: int
    evidence: tuple[str, ...] = ()

    @property
    def nano_cpus(self) -> int:
        """The CPU limit as the docker SDK's `nano_cpus` (billionths of a CPU)."""
        return int(float(self.cpus or 0) * 1_000_000_000)


@dataclass(frozen=True)
class Floors:
    """Limits the repository already implies for a container: never write one below them."""

    memory_bytes: float = 0
    memory_reason: str = ""
    pids: int = 0
    pids_reason: str = ""


def resource_limits(
    image: str | None, config: Config, floors: Floors = Floors(), measured=None
) -> tuple[Limits | None, str]:
    """The limits to add where none are set, or None and why no value can be chosen.

    The settings' `memory-limit`, `cpu-limit` and `pids-limit` come first; the rest come from the image's
    class (hardener/data/limits.toml). An image of no known class gets no limits: one value for every
    service is wrong for most of them. What `hardener prove` measured (`measured`, a
    hardener.measured.Measurement) gives memory and pids limits for any image, and raises a class's value
    that the service already needs more than; CPU is not measured, so it then comes from the class or
    the settings, or stays unset.
    """
    from hardener.images import image_class
    from hardener.measured import docker_size, memory_limit_from, pids_limit_from

    klass = image_class(image, config.image_entries)
    set_values = (config.memory_limit, config.cpu_limit, config.pids_limit)
    what = f"`{image}`" if image else "an image built here"
    memory_peak = measured.memory_peak if measured is not None else None
    pids_peak = measured.pids_peak if measured is not None else None
    was_measured = memory_peak is not None and pids_peak is not None
    if all(v is None for v in set_values) and not was_measured:
        if klass is None:
            return None, (
                f"{what} is of no class hardener knows (database, JVM, web server, ...) and its use was not "
                "measured: set its limits by hand, or `memory-limit`, `cpu-limit` and `pids-limit` in the settings "
                "(`hardener prove` measures them)"
            )
        if not klass.has_limits:
            return None, klass.measure or "its needs must be measured"
    from_class = klass if klass is not None and klass.has_limits else None
    memory = config.memory_limit or (from_class.memory if from_class else None)
    cpus = config.cpu_limit or (from_class.cpus if from_class else None)
    pids = config.pids_limit or (from_class.pids if from_class else None)
    if not was_measured and (memory is None or cpus is None or pids is None):
        missing = ", ".join(
            n for n, v in (("memory-limit", memory), ("cpu-limit", cpus), ("pids-limit", pids)) if v is None
        )
        return None, f"{what} is of no class hardener knows, and the settings give no {missing}"
    evidence = []
    if from_class is not None and any(v is None for v in set_values):
        evidence.append(f"{what} is a {from_class.name} image: limits from its class ({from_class.source})")
    if any(v is not None for v in set_values):
        evidence.append(
            "limits from the settings ("
            + ", ".join(
                f"{n} {v}"
                for n, v in (
                    ("memory-limit", config.memory_limit),
                    ("cpu-limit", config.cpu_limit),
                    ("pids-limit", config.pids_limit),
                )
                if v is not None
            )
            + ")"
        )
    if memory_peak is not None and pids_peak is not None:
        needed_memory, how_memory = memory_limit_from(memory_peak)
        if memory is None or _bytes(memory) < needed_memory:
            memory = docker_size(needed_memory)
            evidence.append(f"memory {memory}: {how_memory}")
        needed_pids, how_pids = pids_limit_from(pids_peak)
        if pids is None or int(pids) < needed_pids:
            pids = needed_pids
            evidence.append(f"pids {pids}: {how_pids}")
        if cpus is None:
            evidence.append("no CPU limit: CPU use is not measured; set `cpu-limit` to add one")
    assert memory is not None and pids is not None
    if floors.memory_bytes and _bytes(memory) < floors.memory_bytes:
        memory = _size(floors.memory_bytes)
        evidence.append(f"memory raised to {memory}: {floors.memory_reason}")
    if floors.pids and int(pids) < floors.pids:
        pids = floors.pids
        evidence.append(f"pids raised to {pids}: {floors.pids_reason}")
    return Limits(memory, str(cpus) if cpus is not None else None, int(pids), tuple(evidence)), ""


_UNITS = {"b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


def _bytes(size: str) -> float:
    """Docker's size text (512m, 1g, 1.5g, 1024) as bytes."""
    text = (
        size.strip().lower().removesuffix("b")
        if size.strip().lower()[-2:] in ("kb", "mb", "gb")
        else size.strip().lower()
    )
    unit = text[-1:] if text[-1:] in _UNITS else "b"
    number = text[:-1] if unit != "b" or text.endswith("b") else text
    try:
        return float(number) * _UNITS[unit]
    except ValueError:
        return 0


def _size(count: float) -> str:
    """Bytes as the smallest whole number of 256 MiB steps, written in m or g."""
    step = 256 * 1024**2
    steps = -(-int(count) // step)
    mib = steps * 256
    return f"{mib // 1024}g" if mib % 1024 == 0 else f"{mib}m"


def parse_size(size: str) -> float:
    return _bytes(size)
