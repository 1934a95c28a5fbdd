"""What `hardener prove` saw a service do in a real container, and the values the fixes take from it.

The runtime (hardener.prove.docker) fills in a Measurement per service; the rules read it through
`Config.measured` and turn it into limits, tmpfs paths and capabilities. No I/O here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

MIB = 1024**2

# Folders whose contents are scratch by convention: a tmpfs there loses nothing a restart should keep.
SCRATCH_FOLDERS = ("/tmp", "/var/tmp", "/run", "/var/run", "/var/cache", "/var/log")

# The capabilities Docker gives a container by default (moby's oci/caps/defaults.go).
DOCKER_DEFAULT_CAPABILITIES = (
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "MKNOD",
    "NET_BIND_SERVICE",
    "NET_RAW",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
)

# What an entrypoint that hands its data to its own user and steps down to it uses (the official
# postgres, redis and nginx images need a subset): the second set tried, after none, for an image of
# which nothing is known, so that most such images are narrowed within five capabilities, not fourteen.
STEP_DOWN_CAPABILITIES = ("CHOWN", "DAC_OVERRIDE", "FOWNER", "SETGID", "SETUID")


@dataclass(frozen=True)
class Measurement:
    """One service as it ran: None wherever the runtime could not see a value."""

    uid: int | None = None  # of the container's first process, after its entrypoint ran
    memory_peak: int | None = None  # bytes, the cgroup's high-water mark
    pids_peak: int | None = None
    written: tuple[str, ...] | None = None  # paths changed in the root file system, outside every mount
    capabilities: tuple[str, ...] | None = None  # a cap_add set tried and found to work after cap_drop: [ALL]
    capabilities_how: str = ""  # how that set was found, for the report
    seconds: float | None = None  # from `up` to a working state
    declined: tuple[tuple[str, str], ...] = ()  # (rule, why): fixes seen to break this service

    def describe(self) -> str:
        parts = []
        if self.uid is not None:
            parts.append(f"as uid {self.uid}")
        if self.memory_peak is not None:
            parts.append(f"peak memory {math.ceil(self.memory_peak / MIB)} MiB")
        if self.pids_peak is not None:
            parts.append("1 process" if self.pids_peak == 1 else f"{self.pids_peak} processes and threads")
        return ", ".join(parts)


def memory_limit_from(peak: int) -> tuple[int, str]:
    """A memory limit for a service that peaked at `peak` bytes: twice the peak, at least 128 MiB more,
    rounded up to 64 MiB steps. A start-up peak is a lower bound of real use, hence the headroom."""
    wanted = max(2 * peak, peak + 128 * MIB)
    limit = math.ceil(wanted / (64 * MIB)) * 64 * MIB
    return limit, f"peak memory {math.ceil(peak / MIB)} MiB measured: twice that, at least 128 MiB more, rounded up"


def pids_limit_from(peak: int) -> tuple[int, str]:
    """A pids limit for a service that peaked at `peak`: four times the peak, at least 64, in steps of 64."""
    limit = math.ceil(max(4 * peak, 64) / 64) * 64
    return limit, f"{peak} processes and threads at most: four times that, at least 64, in steps of 64"


def docker_size(count: int) -> str:
    """Bytes in Docker's units: whole gigabytes as g, anything else as m."""
    if count % (1024**3) == 0:
        return f"{count // 1024**3}g"
    return f"{math.ceil(count / MIB)}m"


def _under(path: str, folder: str) -> bool:
    path, folder = same_folder(path), same_folder(folder.rstrip("/") or "/")
    return path == folder or path.startswith(folder + "/") or folder == "/"


def same_folder(path: str) -> str:
    """/var/run is a link to /run in Debian, Ubuntu and Alpine images: one folder under two names."""
    return "/run" + path[len("/var/run") :] if path == "/var/run" or path.startswith("/var/run/") else path


def tmpfs_from(written: tuple[str, ...], kept: tuple[str, ...] = ()) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(the tmpfs folders that make `written` writable under a read-only root, the paths that cannot be).

    A written file's folder becomes a tmpfs when it lies in a scratch folder (/tmp, /run, /var/cache, ...)
    or is one: a tmpfs anywhere else would hide what the image ships there, or lose data on restart.
    `kept` are folders already writable (tmpfs the file has, the table's paths): writes there need nothing.
    """
    folders: list[str] = []
    blocked: list[str] = []
    for path in sorted(set(written)):
        if any(_under(path, k) for k in kept):
            continue
        if path in SCRATCH_FOLDERS:
            folders.append(same_folder(path))
        elif any(_under(path, s) for s in SCRATCH_FOLDERS):
            folders.append(same_folder(path.rsplit("/", 1)[0]))
        else:
            blocked.append(path)
    # A folder below another one adds nothing.
    unique = sorted(set(folders))
    outer = tuple(f for f in unique if not any(f != o and _under(f, o) for o in unique))
    # Folders `kept` already holds under the other name of /run need nothing either.
    outer = tuple(f for f in outer if not any(_under(f, k) for k in kept))
    return outer, tuple(blocked)
