"""Image references and what hardener knows about popular images.

The knowledge is data, in `hardener/data/images.toml`, each entry with its source: which images
already run as a non-root user, which ship one, which tools create users, which start as root on
purpose and step down themselves (gosu, su-exec, a master process that binds ports and forks
workers), and what they need at run time. A settings file's `image-knowledge` file adds entries of
the same form, which come first.
"""

from __future__ import annotations

import fnmatch
import functools
import re
import sys
from dataclasses import dataclass
from typing import TypedDict, cast

from hardener.model import InputError

DOCKER_HUB = "docker.io"
_DOCKER_HUB_NAMES = ("docker.io", "index.docker.io", "registry-1.docker.io")
_DIGEST = re.compile(r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[0-9a-fA-F]{32,}$")


@dataclass(frozen=True)
class ImageRef:
    """A parsed reference, kept next to the exact text it came from."""

    text: str
    registry: str  # docker.io for Docker Hub
    repository: str  # library/python for official images
    tag: str | None
    digest: str | None

    @classmethod
    def parse(cls, text: str) -> ImageRef:
        rest, _, digest = text.partition("@")
        name, tag = rest, None
        slash = rest.rfind("/")
        colon = rest.rfind(":")
        if colon > slash:
            name, tag = rest[:colon], rest[colon + 1 :]
        first, sep, remainder = name.partition("/")
        if sep and ("." in first or ":" in first or first == "localhost"):
            registry, repository = first, remainder
            if registry.lower() in _DOCKER_HUB_NAMES:
                # docker.io/python is Docker Hub's official python, as Docker itself reads it.
                registry = DOCKER_HUB
                if "/" not in repository:
                    repository = f"library/{repository}"
        else:
            registry, repository = DOCKER_HUB, name
            if "/" not in repository:
                repository = f"library/{repository}"
        return cls(text, registry.lower(), repository.lower(), tag, digest or None)

    @property
    def is_scratch(self) -> bool:
        return self.text.lower() == "scratch"

    @property
    def name(self) -> str:
        """Last path component: python for docker.io/library/python."""
        return self.repository.rsplit("/", 1)[-1]

    @property
    def is_official(self) -> bool:
        return self.registry == DOCKER_HUB and self.repository.startswith("library/")

    @property
    def has_valid_digest(self) -> bool:
        return self.digest is not None and bool(_DIGEST.match(self.digest))

    @property
    def floats(self) -> bool:
        """No digest and no tag, or the tag `latest`: the image changes under you."""
        return self.digest is None and (self.tag is None or self.tag == "latest")

    def in_registry(self, pattern: str) -> bool:
        """Match `docker.io`, `ghcr.io/org`, `*.gcr.io` style trusted-registry entries."""
        pattern = pattern.lower().rstrip("/")
        host, _, path = pattern.partition("/")
        if host.startswith("*."):
            host_ok = self.registry.endswith(host[1:])
        else:
            host_ok = self.registry == host or (host == "hub.docker.com" and self.registry == DOCKER_HUB)
        return host_ok and (not path or self.repository == path or self.repository.startswith(path + "/"))


@dataclass(frozen=True)
class User:
    name: str
    uid: int
    gid: int


@dataclass(frozen=True)
class ImageProfile:
    """What hardener knows about a base image, for the non-root USER fix."""

    # The image's default user is already non-root.
    runs_as_non_root: bool = False
    # A non-root user the image ships, ready for USER.
    shipped_user: User | None = None
    # How to create a user: "debian" (groupadd/useradd), "alpine" (busybox addgroup/adduser),
    # "rhel" (shadow-utils useradd); None when the image has no tool for it.
    user_tools: str | None = None
    # Why the image must start as root (it steps down by itself); None when it need not.
    starts_as_root: str | None = None
    windows: bool = False


# The facts an entry of the image knowledge may state, and what each holds.
_USER_TOOLS = ("debian", "alpine", "rhel", "none")
_FACTS = {
    "windows": bool,
    "runs-as-non-root": bool,
    "shipped-user": dict,
    "user-tools": str,
    "starts-as-root": str,
    "cap-add": list,
    "writable": list,
    "data": list,
    "user": str,
    "class": str,
    "secret-files": list,
}
# The facts once read: `_entry` turns tables into a User and lists into tuples.
ImageFacts = TypedDict(
    "ImageFacts",
    {
        "windows": bool,
        "runs-as-non-root": bool,
        "shipped-user": User,
        "user-tools": str,
        "starts-as-root": str,
        "cap-add": tuple[str, ...],
        "class": str,
        "writable": tuple[str, ...],
        "data": tuple[str, ...],
        "user": str,
        "secret-files": tuple[str, ...],
    },
    total=False,
)
_CONDITIONS = {"images": list, "tags": list, "tag-major-at-least": int, "final": bool, "source": str}
_NAME = re.compile(r"[a-z_][a-z0-9_.-]{0,31}")
_PATH = re.compile(r"/[^\x00-\x1f\x7f]{0,255}")
_CAPABILITY = re.compile(r"[A-Z][A-Z0-9_]{0,47}")
_PATTERN = re.compile(r"[a-z0-9*?\[\]._:/-]{1,255}")


@dataclass(frozen=True)
class ImageEntry:
    """One [[image]] entry of the image knowledge: which images, under which tags, and what is true of them."""

    images: tuple[str, ...]  # normalised fnmatch patterns of registry/repository
    facts: tuple[tuple[str, object], ...]
    source: str
    tags: tuple[str, ...] = ()
    tag_major_at_least: int | None = None
    final: bool = False
    origin: str = ""  # the file and line it was read from, for error messages

    def matches(self, ref: ImageRef) -> bool:
        tag = (ref.tag or "").lower()
        if self.tags and not any(word in tag for word in self.tags):
            return False
        if self.tag_major_at_least is not None:
            major = re.match(r"(\d+)", tag)
            if not major or int(major.group(1)) < self.tag_major_at_least:
                return False
        where = f"{ref.registry}/{ref.repository}"
        return any(p == "**" or fnmatch.fnmatchcase(where, p) for p in self.images)


def _pattern(text: str) -> str:
    """`postgres` is docker.io/library/postgres, `bitnami/*` docker.io/bitnami/*, `**` every image."""
    text = text.lower()
    if text == "**":
        return text
    first, sep, rest = text.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        return text
    return f"{DOCKER_HUB}/{text}" if sep else f"{DOCKER_HUB}/library/{text}"


def parse_image_knowledge(text: str, path: str) -> tuple[ImageEntry, ...]:
    """The [[image]] entries of an image knowledge file; InputError naming the entry's line when one is wrong."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:
        import tomli as tomllib
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        at = re.search(r"at line (\d+)", str(exc))
        raise InputError("invalid TOML", int(at.group(1)) if at else 0, path) from None
    entry_lines = [n for n, line in enumerate(text.splitlines(), 1) if re.match(r"\s*\[\[\s*image\s*\]\]", line)]
    unknown = sorted(set(data) - {"image"})
    if unknown:
        raise InputError(f"unknown table {unknown[0]!r} (image knowledge holds [[image]] entries)", 0, path)
    entries = data.get("image", [])
    if not isinstance(entries, list):
        raise InputError("`image` must be [[image]] entries", 0, path)
    return tuple(_entry(raw, path, entry_lines[i] if i < len(entry_lines) else 0) for i, raw in enumerate(entries))


def _entry(raw: dict, path: str, line: int) -> ImageEntry:
    def fail(message: str):
        return InputError(f"[[image]] entry: {message}", line, path)

    for key, value in raw.items():
        wanted = _FACTS.get(key) or _CONDITIONS.get(key)
        if wanted is None:
            raise fail(f"unknown key {key!r}")
        if not isinstance(value, wanted) or (wanted is int and isinstance(value, bool)):
            raise fail(f"{key!r} must be a {wanted.__name__.replace('dict', 'table').replace('str', 'string')}")
    if not raw.get("images"):
        raise fail("'images' must name at least one image pattern")
    if not isinstance(raw.get("source"), str) or not raw["source"].strip():
        raise fail("'source' must say where the facts come from")
    for pattern in raw["images"]:
        if not isinstance(pattern, str) or not _PATTERN.fullmatch(pattern.lower()):
            raise fail(f"{pattern!r} is not an image pattern")
    for word in raw.get("tags", []):
        if not isinstance(word, str) or not word or _CONTROL.search(word):
            raise fail(f"tag word {word!r} is not a word")
    facts = []
    for key, value in raw.items():
        if key not in _FACTS:
            continue
        if key == "class" and value not in image_classes():
            raise fail(f"'class' must be one of {', '.join(sorted(image_classes()))}")
        if key == "user-tools" and value not in _USER_TOOLS:
            raise fail(f"'user-tools' must be one of {', '.join(_USER_TOOLS)}")
        if key in ("user", "starts-as-root") and (not value or _CONTROL.search(value)):
            raise fail(f"{key!r} must be one line of text")
        if key == "user" and not _NAME.fullmatch(value):
            raise fail(f"{value!r} is not a user name")
        if key == "shipped-user":
            name, uid, gid = value.get("name"), value.get("uid"), value.get("gid")
            if set(value) != {"name", "uid", "gid"} or not isinstance(name, str) or not _NAME.fullmatch(name):
                raise fail("'shipped-user' must be { name, uid, gid } with a plain user name")
            if not all(isinstance(n, int) and not isinstance(n, bool) and 0 < n < 2**31 for n in (uid, gid)):
                raise fail("'shipped-user' ids must be positive integers")
            value = User(name, uid, gid)
        if key == "cap-add":
            if not all(isinstance(c, str) and _CAPABILITY.fullmatch(c.upper()) for c in value):
                raise fail("'cap-add' must list capabilities such as CHOWN")
            value = tuple(c.upper() for c in value)
        if key == "secret-files":
            if not all(isinstance(v, str) and re.fullmatch(r"[A-Z_][A-Z0-9_]{0,63}", v) for v in value):
                raise fail("'secret-files' must list variable names such as POSTGRES_PASSWORD")
            value = tuple(value)
        if key in ("writable", "data"):
            if not all(isinstance(p, str) and _PATH.fullmatch(p) for p in value):
                raise fail(f"{key!r} must list absolute paths")
            value = tuple(value)
        facts.append((key, value))
    return ImageEntry(
        images=tuple(_pattern(p) for p in raw["images"]),
        facts=tuple(facts),
        source=raw["source"],
        tags=tuple(w.lower() for w in raw.get("tags", ())),
        tag_major_at_least=raw.get("tag-major-at-least"),
        final=raw.get("final", False),
        origin=f"{path}:{line}" if line else path,
    )


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@functools.cache
def shipped_knowledge() -> tuple[ImageEntry, ...]:
    """hardener's own image knowledge, `hardener/data/images.toml`."""
    from importlib.resources import files

    return parse_image_knowledge(files("hardener.data").joinpath("images.toml").read_text("utf-8"), "images.toml")


@dataclass(frozen=True)
class ImageClass:
    """Resource limits for a kind of image (databases, JVMs, ...), or why they must be measured instead."""

    name: str
    source: str
    memory: str | None = None
    cpus: str | None = None
    pids: int | None = None
    measure: str | None = None  # set instead of limits: why no table value fits

    @property
    def has_limits(self) -> bool:
        return self.memory is not None


@functools.cache
def image_classes() -> dict[str, ImageClass]:
    """hardener's table of limits per image class, `hardener/data/limits.toml`."""
    from importlib.resources import files

    if sys.version_info >= (3, 11):
        import tomllib
    else:
        import tomli as tomllib
    data = tomllib.loads(files("hardener.data").joinpath("limits.toml").read_text("utf-8"))
    return {
        name: ImageClass(name, raw["source"], raw.get("memory"), raw.get("cpus"), raw.get("pids"), raw.get("measure"))
        for name, raw in data.items()
    }


def image_class(reference: str | None, extra: tuple[ImageEntry, ...] = ()) -> ImageClass | None:
    """The class of the image (its `class` fact), or None when hardener does not know it."""
    if not reference:
        return None
    name = facts_for(ImageRef.parse(reference), extra).get("class")
    return image_classes().get(name) if name else None


def facts_for(ref: ImageRef, extra: tuple[ImageEntry, ...] = ()) -> ImageFacts:
    """Each fact from the first entry (the settings' own first) that matches the image and states it."""
    return cast(ImageFacts, dict(_facts_for(ref, extra)))  # a copy: callers may change theirs


@functools.lru_cache(maxsize=4096)  # a stack names the same few images in many services and rules
def _facts_for(ref: ImageRef, extra: tuple[ImageEntry, ...]) -> dict[str, object]:
    found: dict[str, object] = {}
    for entry in (*extra, *shipped_knowledge()):
        if entry.matches(ref):
            for key, value in entry.facts:
                found.setdefault(key, value)
            if entry.final:
                break
    return found  # `_entry` checked each fact's key and type


def profile_for(ref: ImageRef, extra: tuple[ImageEntry, ...] = ()) -> ImageProfile | None:
    """What is known about a base image, or None when nothing is."""
    facts = facts_for(ref, extra)
    profile_facts = ("windows", "runs-as-non-root", "shipped-user", "user-tools", "starts-as-root")
    if not any(key in facts for key in profile_facts):
        return None
    tools = facts.get("user-tools")
    return ImageProfile(
        runs_as_non_root=bool(facts.get("runs-as-non-root", False)),
        shipped_user=facts.get("shipped-user"),
        user_tools=None if tools == "none" else tools,
        starts_as_root=facts.get("starts-as-root"),
        windows=bool(facts.get("windows", False)),
    )


@dataclass(frozen=True)
class RuntimeNeeds:
    """What a popular image needs at run time, for compose services and docker SDK calls.

    cap_add: capabilities it needs after `cap_drop: [ALL]` (entrypoints that
    chown their data and step down with gosu need CHOWN, SETUID, SETGID, ...).
    writable: paths it writes outside its volumes, for tmpfs under `read_only`.
    data: its data folders, which must never become tmpfs.
    user: a non-root user it runs correctly as, with `user:`.
    """

    cap_add: tuple[str, ...]
    writable: tuple[str, ...] | None = None
    data: tuple[str, ...] = ()
    user: str | None = None


def runtime_needs(
    reference: str | None,
    capabilities: tuple[tuple[str, tuple[str, ...]], ...] = (),
    extra: tuple[ImageEntry, ...] = (),
) -> RuntimeNeeds | None:
    """What the image needs at run time, or None when its capabilities are unknown.

    `capabilities` are the settings' `image-capabilities` (image name -> cap_add), which win over the
    knowledge; `extra` the entries of the settings' own image knowledge file.
    """
    if not reference:
        return None
    ref = ImageRef.parse(reference)
    facts = facts_for(ref, extra)
    short = ref.repository.removeprefix("library/")
    configured = next(
        (caps for name, caps in capabilities if name.lower() in (short, ref.name, f"{ref.registry}/{ref.repository}")),
        None,
    )
    cap_add = configured if configured is not None else facts.get("cap-add")
    if cap_add is None:
        return None
    return RuntimeNeeds(tuple(cap_add), facts.get("writable"), facts.get("data", ()), facts.get("user"))
