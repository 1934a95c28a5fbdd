"""Settings: `[tool.hardener]` in pyproject.toml or a `.hardener.toml` file.

The nearest configuration file above a scanned file wins (a `.hardener.toml`
before a `pyproject.toml` in the same folder), searching up to the repository
root; command-line options override it. See `ConfigFinder` for where the search
stops, and `config_from_mapping` for what each setting may hold.
"""

from __future__ import annotations

import os
import re
import stat
import sys
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import TypedDict

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
    # Compose and the docker SDK: resource limits hardener adds (None: from the image's class, see
    # hardener/data/limits.toml), and in which style.
    memory_limit: str | None = None
    cpu_limit: str | None = None
    pids_limit: int | None = None
    limits_style: str = "service"  # or "deploy"; a file that uses deploy: always gets deploy
    # Compose: capabilities images need after cap_drop: [ALL], added to the built-in table.
    image_capabilities: tuple[tuple[str, tuple[str, ...]], ...] = ()
    # More image knowledge, in the form of hardener/data/images.toml: a path relative to the settings
    # file, inside the repository. Its entries (`image_entries`, read with the settings) come first.
    image_knowledge: str | None = None
    image_entries: tuple = ()
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
    # What each file role gets ("fix", "report" or "off"), over the defaults in hardener.evidence.roles,
    # and roles given to files by pattern, over what hardener reads from their path and name.
    roles: tuple[tuple[str, str], ...] = ()
    file_roles: tuple[tuple[str, str], ...] = ()
    source: str | None = None  # the file this came from
    # What `hardener prove` measured per compose service: ((service name, measured.Measurement), ...).
    # Never read from a settings file: the prove run fills it in for the file it proves.
    measured: tuple = ()
    # `fix --prove`: whether behaviour-changing fixes that could not be proven are written anyway.
    unproven: str = "skip"  # or "apply"

    def role_action(self, role: str) -> str:
        """ "fix", "report" or "off" for files of this role."""
        from hardener.evidence.roles import DEFAULT_ACTIONS, Role

        return dict(self.roles).get(role) or DEFAULT_ACTIONS[Role(role)]

    def measurement(self, service: str):
        """What prove measured of this service, or None."""
        return dict(self.measured).get(service)

    def with_overrides(self, *, extra_ignore: tuple[str, ...] = (), **changes) -> Config:
        """Command-line options over the file's settings; None leaves a setting alone."""
        changed = replace(self, **{k: v for k, v in changes.items() if v is not None})
        return replace(changed, ignore=changed.ignore + tuple(extra_ignore)) if extra_ignore else changed


_TUPLE_KEYS = {"select", "ignore", "exclude", "trusted_registries", "compose_files", "insecure_registries"}
_BOOL_KEYS = {"unsafe_fixes", "drop_capabilities_of_unknown_images", "compose_check"}
_PATH_KEYS = {"registry_ca_bundle", "digest_lock_file", "image_knowledge"}
# Fields filled in from other settings, never written in a settings file.
_DERIVED = {"source", "image_entries", "measured"}
_CHOICES = {
    "limits_style": ("service", "deploy"),
    "anchor_fixes": ("per-service", "shared"),
    "unproven": ("skip", "apply"),
}

# Values hardener writes into files, or hands to the registry client, must be exactly what they claim:
# a newline in a memory limit would add keys of its own to a compose file.
_DOCKER_MINIMUM_MEMORY = 6 * 1024 * 1024  # the daemon refuses a smaller memory limit


def _leading_number(size: str) -> float:
    digits = re.match(r"[0-9.]+", size)
    assert digits is not None, "sizes are checked against _MEMORY first: they start with a digit"
    return float(digits.group())


def _bytes(size: str) -> float:
    number = _leading_number(size)
    unit = size.lower().rstrip("b")[-1:] if size[-1:].isalpha() else ""
    return number * {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}.get(unit, 1)


_MEMORY = re.compile(r"(?i)[0-9]{1,15}(\.[0-9]{1,6})?([bkmg]b?)?")  # Compose's and docker-py's byte units
_CPUS = re.compile(r"[0-9]{1,4}(\.[0-9]{1,3})?")
_SELECTOR = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,63}")
_HOST = r"([A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|\[[0-9A-Fa-f:.]{2,45}\])(:[0-9]{1,5})?"
_REGISTRY_HOST = re.compile(_HOST)
_TRUSTED_REGISTRY = re.compile(r"(\*\.)?" + _HOST + r"(/[A-Za-z0-9._/-]{1,255})?")
_IMAGE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/:@-]{0,255}")
_CAPABILITY = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,47}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_USER_NAME = re.compile(r"[a-z_][a-z0-9_-]{0,31}")
OUTSIDE = "is outside the repository (following symbolic links)"
MAX_SETTINGS_BYTES = 1024 * 1024
MAX_LOCK_FILE_BYTES = 1024 * 1024  # some five thousand pins; the registry layer reads within it
MAX_CA_BUNDLE_BYTES = 4 * 1024 * 1024
MAX_IMAGE_KNOWLEDGE_BYTES = 1024 * 1024


class SettingError(InputError):
    """A bad value for one setting; `setting` is the key as written, to find its line."""

    def __init__(self, setting: str, message: str, source: str):
        super().__init__(message, 0, source)
        self.setting = setting

    def __reduce__(self):
        return (SettingError, (self.setting, self.message, self.path))


def _shown(value) -> str:
    """A bad value in an error message: quoted, escaped, and short."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_list(key: str, value, pattern: re.Pattern | None, what: str, source: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise SettingError(key, f"setting {key!r} must be a list of strings", source)
    for item in value:
        bad = not item or _CONTROL.search(item) if pattern is None else not pattern.fullmatch(item)
        if bad:
            raise SettingError(key, f"setting {key!r}: {_shown(item)} is not {what}", source)
    return tuple(value)


def config_from_mapping(data: dict, source: str) -> Config:
    """Validate a [tool.hardener] table by type and pattern; unknown keys and bad values are errors.

    Pure: paths are checked against the file system by `load_config_file`, which knows where they lie.
    """
    from hardener.rules import validate_selectors

    known = {f.name for f in fields(Config)} - _DERIVED
    values: dict = {}
    for key, value in data.items():
        attr = key.replace("-", "_")
        if attr not in known:
            raise SettingError(
                key,
                f"unknown setting {key!r} (known: {', '.join(sorted(k.replace('_', '-') for k in known))})",
                source,
            )
        if attr in ("select", "ignore"):
            value = _check_list(key, value, _SELECTOR, "a rule id, id prefix or name", source)
            unknown = validate_selectors(value)
            if unknown:
                raise SettingError(key, f"setting {key!r}: unknown rule {unknown!r} (see `hardener rules`)", source)
        elif attr == "trusted_registries":
            value = _check_list(key, value, _TRUSTED_REGISTRY, "a registry such as ghcr.io/acme or *.gcr.io", source)
        elif attr == "insecure_registries":
            value = _check_list(key, value, _REGISTRY_HOST, "a registry host such as registry.lan:5000", source)
        elif attr in _TUPLE_KEYS:  # exclude, compose-files: file name patterns
            value = _check_list(key, value, None, "a file name pattern (one line, not empty)", source)
        elif attr in _BOOL_KEYS:
            if not isinstance(value, bool):
                raise SettingError(key, f"setting {key!r} must be true or false", source)
        elif attr in _PATH_KEYS:
            if not isinstance(value, str) or not value or _CONTROL.search(value):
                raise SettingError(key, f"setting {key!r} must be a path", source)
        elif attr == "digest_cache_ttl":
            if not _is_int(value) or not 0 <= value < 2**31:
                raise SettingError(key, f"setting {key!r} must be a number of seconds", source)
        elif attr in ("user_uid", "pids_limit"):
            if not _is_int(value) or not 1 <= value < 2**31:
                raise SettingError(key, f"setting {key!r} must be a positive integer", source)
        elif attr == "memory_limit":
            text = str(value) if _is_int(value) or isinstance(value, str) else ""
            if not _MEMORY.fullmatch(text) or not _leading_number(text) > 0:
                raise SettingError(
                    key, f'setting {key!r} must be a size such as "512m" or "1g" (units b, k, m, g)', source
                )
            if _bytes(text) < _DOCKER_MINIMUM_MEMORY:
                # A bare number is bytes to Compose: `512` would be written as a limit no container starts with.
                raise SettingError(key, f"setting {key!r} is {text!r} bytes; Docker needs at least 6m", source)
            value = text
        elif attr == "cpu_limit":
            text = str(value) if isinstance(value, (str, int, float)) and not isinstance(value, bool) else ""
            if not _CPUS.fullmatch(text) or not float(text) >= 0.01:
                raise SettingError(
                    key, f'setting {key!r} must be a number of CPUs such as "0.5" (0.01 or more)', source
                )
            value = text
        elif attr in _CHOICES:
            if value not in _CHOICES[attr]:
                raise SettingError(key, f"setting {key!r} must be one of {', '.join(_CHOICES[attr])}", source)
        elif attr == "image_capabilities":
            if not isinstance(value, dict) or not all(
                isinstance(v, list) and all(isinstance(c, str) for c in v) for v in value.values()
            ):
                raise SettingError(key, f"setting {key!r} must be a table of image = [capabilities]", source)
            for image, capabilities in value.items():
                if not _IMAGE_NAME.fullmatch(image):
                    raise SettingError(key, f"setting {key!r}: {_shown(image)} is not an image name", source)
                for capability in capabilities:
                    if not _CAPABILITY.fullmatch(capability):
                        raise SettingError(key, f"setting {key!r}: {_shown(capability)} is not a capability", source)
            value = tuple((k, tuple(c.upper() for c in v)) for k, v in value.items())
        elif attr in ("roles", "file_roles"):
            value = _check_roles(key, value, source, attr == "roles")
        elif attr == "user_name":
            if not isinstance(value, str) or not _USER_NAME.fullmatch(value):
                raise SettingError(
                    key, f"setting {key!r} must be a plain user name (lower case, not starting with -)", source
                )
        values[attr] = value
    return Config(source=source, **values)


def _check_roles(key: str, value, source: str, actions: bool) -> tuple[tuple[str, str], ...]:
    """`roles = {development = "report"}` (role = action) or `file-roles = {"deploy/*" = "production"}`."""
    from hardener.evidence.roles import ACTIONS, Role

    roles = tuple(r.value for r in Role)
    if not isinstance(value, dict):
        raise SettingError(key, f"setting {key!r} must be a table", source)
    out = []
    for name, choice in value.items():
        if actions and name not in roles:
            raise SettingError(key, f"setting {key!r}: {_shown(name)} is not a role ({', '.join(roles)})", source)
        if not actions and (not isinstance(name, str) or not name.strip() or _CONTROL.search(name)):
            raise SettingError(key, f"setting {key!r}: {_shown(name)} is not a path pattern", source)
        allowed = ACTIONS if actions else roles
        if choice not in allowed:
            raise SettingError(key, f"setting {key!r}: {_shown(name)} must be one of {', '.join(allowed)}", source)
        out.append((name, choice))
    return tuple(out)


def _read_settings(path: Path) -> str:
    """The settings file's text: a regular file of at most MAX_SETTINGS_BYTES, never a FIFO or a device."""
    from hardener.files import read_regular_file

    data = read_regular_file(str(path), MAX_SETTINGS_BYTES)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputError("not UTF-8 text", line, str(path)) from None


def _load_toml(path: Path) -> tuple[dict, str]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:
        import tomli as tomllib
    text = _read_settings(path)
    try:
        return tomllib.loads(text), text
    except tomllib.TOMLDecodeError as exc:
        message = str(exc).splitlines()[0] if str(exc) else "cannot parse"
        # Python 3.14 gives the line as an attribute; earlier versions only in the message.
        at = re.search(r"\s*\(at line (\d+), column \d+\)$", message)
        line = getattr(exc, "lineno", 0) or (int(at.group(1)) if at else 0)
        message = message[: at.start()] if at else message
        raise InputError(f"invalid TOML: {message}", line, str(path)) from None


_HEADER = re.compile(r"\s*\[\s*([^\]]*?)\s*\]")


def _line_of(text: str, key: str, table: str) -> int:
    """The line where `key` is set in `table` ("" for the top level), or 0; cheap, for error messages."""
    wanted = table.split(".") if table else []
    current: list[str] = []
    assignment = re.compile(r"\s*([\"']?)" + re.escape(key) + r"\1\s*[=.]")
    for number, line in enumerate(text.splitlines(), 1):
        header = _HEADER.match(line)
        if header and not line.lstrip().startswith("[["):
            current = [part.strip().strip("\"'") for part in header.group(1).split(".")]
            if current == wanted + [key]:  # a sub-table such as [tool.hardener.image-capabilities]
                return number
        elif current == wanted and assignment.match(line):
            return number
    return 0


def _contained_path(value: str, folder: Path, root: str) -> str | None:
    """`value` relative to the settings file's folder, as an absolute path; None when it leaves `root`."""
    absolute = os.path.abspath(os.path.join(folder, value))
    real = os.path.realpath(absolute)
    inside = real == root or real.startswith(root.rstrip(os.sep) + os.sep)
    return absolute if inside else None


class _CheckedPaths(TypedDict, total=False):
    digest_lock_file: str
    registry_ca_bundle: str
    image_knowledge: str
    image_entries: tuple


def _check_paths(config: Config, path: Path, root: str, text: str, table: str) -> Config:
    """Paths in the settings made absolute (relative ones are relative to the settings file) and checked.

    `digest-lock-file` must lie inside the repository (`root`, following links) and, if it exists, be a
    regular file of at most MAX_LOCK_FILE_BYTES. `registry-ca-bundle` may lie anywhere but must be a
    readable regular file of PEM certificates.
    """
    folder = path.parent
    changes: _CheckedPaths = {}

    def fail(attr: str, message: str):
        key = attr.replace("_", "-")
        return InputError(f"setting {key!r} {message}", _line_of(text, key, table), str(path))

    if config.digest_lock_file:
        lock = _contained_path(config.digest_lock_file, folder, root)
        if lock is None:
            raise fail("digest_lock_file", OUTSIDE)
        try:
            st = os.stat(lock)
        except FileNotFoundError:
            st = None  # nothing locked yet
        except OSError as exc:
            raise fail("digest_lock_file", f"cannot be read: {exc.strerror}") from None
        if st is not None and not stat.S_ISREG(st.st_mode):
            raise fail("digest_lock_file", "must be a regular file")
        if st is not None and st.st_size > MAX_LOCK_FILE_BYTES:
            raise fail("digest_lock_file", f"is larger than {MAX_LOCK_FILE_BYTES} bytes")
        changes["digest_lock_file"] = lock
    if config.registry_ca_bundle:
        bundle = os.path.abspath(os.path.join(folder, config.registry_ca_bundle))
        try:
            st = os.stat(bundle)
        except OSError as exc:
            raise fail("registry_ca_bundle", f"cannot be read: {exc.strerror}") from None
        if not stat.S_ISREG(st.st_mode):
            raise fail("registry_ca_bundle", "must be a regular file")
        if st.st_size > MAX_CA_BUNDLE_BYTES:
            raise fail("registry_ca_bundle", f"is larger than {MAX_CA_BUNDLE_BYTES // 2**20} MiB")
        import ssl

        try:
            ssl.create_default_context(cafile=bundle)
        except (ssl.SSLError, ValueError):  # SSLError is an OSError: first
            raise fail("registry_ca_bundle", "holds no PEM certificates") from None
        except OSError as exc:
            raise fail("registry_ca_bundle", f"cannot be read: {exc.strerror or exc}") from None
        changes["registry_ca_bundle"] = bundle
    if config.image_knowledge:
        knowledge = _contained_path(config.image_knowledge, folder, root)
        if knowledge is None:
            raise fail("image_knowledge", OUTSIDE)
        changes["image_knowledge"] = knowledge
        changes["image_entries"] = _read_image_knowledge(knowledge, fail)
    return replace(config, **changes) if changes else config


def _read_image_knowledge(path: str, fail) -> tuple:
    """The entries of a settings file's `image-knowledge` file; its own errors name its own lines."""
    from hardener.files import read_regular_file
    from hardener.images import parse_image_knowledge

    try:
        data = read_regular_file(path, MAX_IMAGE_KNOWLEDGE_BYTES)
    except InputError as exc:
        raise fail("image_knowledge", f"cannot be read: {exc.message}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError("not UTF-8 text", data[: exc.start].count(b"\n") + 1, path) from None
    return parse_image_knowledge(text, path)


def load_config_file(path: Path, root: str | None = None) -> Config | None:
    """Read one config file; None when a pyproject.toml has no [tool.hardener].

    `root` is the folder the settings' own paths must stay inside: by default the repository holding
    the file (the nearest folder with `.git`), or the file's own folder outside one.
    """
    path = Path(os.path.abspath(path))
    data, text = _load_toml(path)
    table = ""
    settings: object = data
    if path.name == "pyproject.toml":
        table = "tool.hardener"
        tool = data.get("tool", {})
        if not isinstance(tool, dict):
            raise InputError("`tool` must be a table", _line_of(text, "tool", ""), str(path))
        settings = tool.get("hardener")
        if settings is None:
            return None
    if not isinstance(settings, dict):
        raise InputError("[tool.hardener] must be a table", _line_of(text, "hardener", "tool"), str(path))
    try:
        config = config_from_mapping(settings, str(path))
    except SettingError as exc:
        raise InputError(exc.message, _line_of(text, exc.setting, table), str(path)) from None
    if root is None:
        from hardener.files import repository_of

        folder = os.path.realpath(path.parent)
        root = repository_of(folder) or folder
    return _check_paths(config, path, os.path.realpath(root), text, table)


class ConfigFinder:
    """Finds the nearest configuration for each folder, caching per folder.

    The search climbs from a file's folder and stops at the repository root: the nearest folder that
    holds `.git`. Outside a repository it never climbs above the folder the run started in: the current
    folder, or, for a path named outside it, that path (its folder, for a file), as
    `hardener.files.root_for` decides; when these nest, the outermost one. `roots` are the paths the run
    names. Without them, a folder asked about outside every known root counts as named: discovery asks
    about each named path before anything below it. Settings found this way may name paths only inside
    the folder where the search stops.
    """

    def __init__(self, explicit: Path | None = None, roots=None):
        self.explicit = load_config_file(explicit) if explicit else None
        self._cache: dict[Path, Config] = {}
        self._real: dict[Path, str] = {}
        self._git: dict[Path, bool] = {}
        self._roots: set[str] = set()
        from hardener.files import root_for

        self._root_for = root_for
        self._add_root(os.curdir)
        for named in roots or ():
            self._add_root(named)

    def _add_root(self, path) -> None:
        root = self._root_for(str(path))
        if root not in self._roots:
            self._roots.add(root)
            self._cache.clear()  # a new boundary may end searches earlier

    def _realpath(self, folder: Path) -> str:
        if folder not in self._real:
            self._real[folder] = os.path.realpath(folder)
        return self._real[folder]

    def _inside_a_root(self, real: str) -> bool:
        return any(real == r or real.startswith(r.rstrip(os.sep) + os.sep) for r in self._roots)

    def for_path(self, path: Path) -> Config:
        if self.explicit is not None:
            return self.explicit
        folder = Path(os.path.abspath(path if path.is_dir() else path.parent))
        if not self._inside_a_root(self._realpath(folder)):
            self._add_root(folder)
        return self._for_folder(folder)

    def _for_folder(self, folder: Path) -> Config:
        if folder in self._cache:
            return self._cache[folder]
        chain = self._search_chain(folder)
        found = Config()
        searched = chain
        for i, candidate_folder in enumerate(chain):
            config = self._cache.get(candidate_folder) or self._settings_in(candidate_folder, chain[-1])
            if config is not None:
                found, searched = config, chain[: i + 1]
                break
        for each in searched:  # folders above the settings file do not see it
            self._cache[each] = found
        return found

    def _search_chain(self, folder: Path) -> list[Path]:
        """The folders searched, nearest first: up to the repository root, else up to the outermost root."""
        chain = []
        outermost = 0
        current = folder
        while True:
            chain.append(current)
            if self._has_git(current):
                return chain
            if self._realpath(current) in self._roots:
                outermost = len(chain)
            if current.parent == current:
                return chain[: outermost or 1]
            current = current.parent

    def _has_git(self, folder: Path) -> bool:
        if folder not in self._git:
            self._git[folder] = (folder / ".git").exists()
        return self._git[folder]

    def _settings_in(self, folder: Path, top: Path) -> Config | None:
        for name in CONFIG_FILES:
            candidate = folder / name
            # Anything at the name counts (a FIFO, a device, a link): it is refused, never passed over
            # for the settings of a folder further up.
            if os.path.lexists(candidate):
                root = self._realpath(top)
                if _contained_path(name, folder, root) is None:
                    raise InputError(f"{OUTSIDE}; not read", 0, str(candidate))
                config = load_config_file(candidate, root)
                if config is not None:
                    return config
        return None
