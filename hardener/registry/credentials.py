"""Registry credentials from Docker's own configuration (~/.docker/config.json).

`auths.<host>.auth` (base64 user:password), and the credential helpers named
by `credHelpers.<host>` or `credsStore` (`docker-credential-<name> get`).
Values are handed to the client and never printed.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
from pathlib import Path

from hardener.images import DOCKER_HUB

_HUB_KEYS = ("https://index.docker.io/v1/", "index.docker.io", "docker.io", "registry-1.docker.io")


class DockerCredentials:
    def __init__(self, config_path: str | Path | None = None):
        if config_path is None:
            folder = os.environ.get("DOCKER_CONFIG") or os.path.join(os.path.expanduser("~"), ".docker")
            config_path = os.path.join(folder, "config.json")
        self.path = Path(config_path)
        self._config: dict | None = None
        self._found: dict[str, tuple[str, str] | None] = {}

    def _load(self) -> dict:
        if self._config is None:
            try:
                self._config = json.loads(self.path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                self._config = {}
            if not isinstance(self._config, dict):
                self._config = {}
        return self._config

    def for_registry(self, registry: str) -> tuple[str, str] | None:
        """(user, secret) for a registry host, or None."""
        if registry not in self._found:
            self._found[registry] = self._lookup(registry)
        return self._found[registry]

    def _lookup(self, registry: str) -> tuple[str, str] | None:
        config = self._load()
        keys = _HUB_KEYS if registry == DOCKER_HUB else (registry, f"https://{registry}", f"http://{registry}")
        helpers = config.get("credHelpers") or {}
        for key in keys:
            if key in helpers:
                return _from_helper(helpers[key], key)
        auths = config.get("auths") or {}
        for key in keys:
            entry = auths.get(key)
            if isinstance(entry, dict) and entry.get("auth"):
                try:
                    user, _, secret = base64.b64decode(entry["auth"]).decode().partition(":")
                except (ValueError, UnicodeDecodeError):
                    continue
                if user and secret:
                    return user, secret
        store = config.get("credsStore")
        if store:
            for key in keys:
                found = _from_helper(store, key)
                if found:
                    return found
        return None


def _from_helper(name: str, server: str) -> tuple[str, str] | None:
    try:
        out = subprocess.run(
            [f"docker-credential-{name}", "get"], input=server, capture_output=True, text=True, timeout=15
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode != 0:
        return None
    try:
        data = json.loads(out.stdout)
    except ValueError:
        return None
    user, secret = data.get("Username"), data.get("Secret")
    return (user, secret) if user and secret else None
