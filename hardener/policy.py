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
    """The resource limits a container gets: memory in Docker's units, CPUs as a decimal, a pids count."""

    memory: str
    cpus: str
    pids: int

    @property
    def nano_cpus(self) -> int:
        """The CPU limit as the docker SDK's `nano_cpus` (billionths of a CPU)."""
        return int(float(self.cpus) * 1_000_000_000)


def resource_limits(image: str | None, config: Config) -> Limits:
    """The limits to add where none are set."""
    return Limits(config.memory_limit, config.cpu_limit, config.pids_limit)
