"""Settings: `[tool.hardener]` in pyproject.toml or a `.hardener.toml` file.

The nearest configuration file above a scanned file wins (a `.hardener.toml`
before a `pyproject.toml` in the same folder), searching up to the repository
root; command-line options override it.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, fields, replace
from pathlib import Path

from hardener.model import InputError

CONFIG_FILES = (".hardener.toml", "pyproject.toml")


@dataclass(frozen=True)
class Config:
    select: tuple[str, ...] = ()  # empty: every rule
    ignore: tuple[str, ...] = ()
    unsafe_fixes: bool = False
    exclude: tuple[str, ...] = ()  # gitignore-style patterns
    trusted_registries: tuple[str, ...] = ()  # empty: the registry check is off
    user_uid: int = 10001  # for a user hardener creates
    user_name: str = "appuser"
    # Compose: resource limits hardener adds, and in which style.
    memory_limit: str = "512m"
    cpu_limit: str = "0.5"
    pids_limit: int = 256
    limits_style: str = "service"  # or "deploy"; a file that uses deploy: always gets deploy
    # Compose: capabilities images need after cap_drop: [ALL], added to the built-in table.
    image_capabilities: tuple[tuple[str, tuple[str, ...]], ...] = ()
    drop_capabilities_of_unknown_images: bool = False
    # Compose: fix a merged anchor once when all its users need the same change, or each service.
    anchor_fixes: str = "per-service"
    compose_files: tuple[str, ...] = ()  # more file name patterns to read as compose files
    compose_check: bool = True  # check every fixed compose file with Docker Compose (two runs of `config`)
    # Pinning: registries reached over plain HTTP (loopback always is), a CA bundle, the cache and a lock file.
    insecure_registries: tuple[str, ...] = ()
    registry_ca_bundle: str | None = None
    digest_cache_ttl: int = 86400
    digest_lock_file: str | None = None
    source: str | None = None  # the file this came from

    def with_overrides(self, *, extra_ignore: tuple[str, ...] = (), **changes) -> Config:
        """Command-line options over the file's settings; None leaves a setting alone."""
        changed = replace(self, **{k: v for k, v in changes.items() if v is not None})
        return replace(changed, ignore=changed.ignore + tuple(extra_ignore)) if extra_ignore else changed


_TUPLE_KEYS = {"select", "ignore", "exclude", "trusted_registries", "compose_files", "insecure_registries"}
_BOOL_KEYS = {"unsafe_fixes", "drop_capabilities_of_unknown_images", "compose_check"}
_STRING_KEYS = {"memory_limit", "cpu_limit"}
_CHOICES = {"limits_style": ("service", "deploy"), "anchor_fixes": ("per-service", "shared")}


def config_from_mapping(data: dict, source: str) -> Config:
    """Validate a [tool.hardener] table; unknown keys and wrong types are errors."""
    known = {f.name for f in fields(Config)} - {"source"}
    values: dict = {}
    for key, value in data.items():
        attr = key.replace("-", "_")
        if attr not in known:
            raise InputError(
                f"unknown setting {key!r} (known: {', '.join(sorted(k.replace('_', '-') for k in known))})", 0, source
            )
        if attr in _TUPLE_KEYS:
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise InputError(f"setting {key!r} must be a list of strings", 0, source)
            value = tuple(value)
        elif attr in _BOOL_KEYS:
            if not isinstance(value, bool):
                raise InputError(f"setting {key!r} must be true or false", 0, source)
        elif attr in ("registry_ca_bundle", "digest_lock_file"):
            if not isinstance(value, str) or not value:
                raise InputError(f"setting {key!r} must be a path", 0, source)
        elif attr == "digest_cache_ttl":
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise InputError(f"setting {key!r} must be a number of seconds", 0, source)
        elif attr in ("user_uid", "pids_limit"):
            if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value < 2**31:
                raise InputError(f"setting {key!r} must be a positive integer", 0, source)
        elif attr in _STRING_KEYS:
            if not isinstance(value, (str, int, float)) or isinstance(value, bool) or not str(value).strip():
                raise InputError(f'setting {key!r} must be a value such as "512m" or "0.5"', 0, source)
            value = str(value)
        elif attr in _CHOICES:
            if value not in _CHOICES[attr]:
                raise InputError(f"setting {key!r} must be one of {', '.join(_CHOICES[attr])}", 0, source)
        elif attr == "image_capabilities":
            if not isinstance(value, dict) or not all(
                isinstance(v, list) and all(isinstance(c, str) for c in v) for v in value.values()
            ):
                raise InputError(f"setting {key!r} must be a table of image = [capabilities]", 0, source)
            value = tuple((k, tuple(c.upper() for c in v)) for k, v in value.items())
        elif attr == "user_name":
            if not isinstance(value, str) or not re.fullmatch(r"[a-z_][a-z0-9_-]{0,31}", value):
                raise InputError(
                    f"setting {key!r} must be a plain user name (lower case, not starting with -)", 0, source
                )
        values[attr] = value
    return Config(source=source, **values)


def _load_toml(path: Path) -> dict:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        line = getattr(exc, "lineno", 0) or 0
        raise InputError(f"invalid TOML: {exc}", line, str(path)) from None
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror}", 0, str(path)) from None


def load_config_file(path: Path) -> Config | None:
    """Read one config file; None when a pyproject.toml has no [tool.hardener]."""
    data = _load_toml(path)
    if path.name == "pyproject.toml":
        tool = data.get("tool", {})
        if not isinstance(tool, dict):
            raise InputError("`tool` must be a table", 0, str(path))
        data = tool.get("hardener")
        if data is None:
            return None
    if not isinstance(data, dict):
        raise InputError("[tool.hardener] must be a table", 0, str(path))
    return config_from_mapping(data, str(path))


class ConfigFinder:
    """Finds the nearest configuration for each folder, caching per folder."""

    def __init__(self, explicit: Path | None = None):
        self.explicit = load_config_file(explicit) if explicit else None
        self._cache: dict[Path, Config] = {}

    def for_path(self, path: Path) -> Config:
        if self.explicit is not None:
            return self.explicit
        folder = path if path.is_dir() else path.parent
        return self._for_folder(Path(os.path.abspath(folder)))

    def _for_folder(self, folder: Path) -> Config:
        if folder in self._cache:
            return self._cache[folder]
        found = None
        for name in CONFIG_FILES:
            candidate = folder / name
            if candidate.is_file():
                found = load_config_file(candidate)
                if found is not None:
                    break
        if found is None:
            parent = folder.parent
            # The repository root ends the search: settings outside it do not apply.
            at_top = parent == folder or (folder / ".git").exists()
            found = Config() if at_top else self._for_folder(parent)
        self._cache[folder] = found
        return found
