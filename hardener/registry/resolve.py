"""Digests for a run: lock file first, then the cache, then the registry (unless offline)."""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path

from hardener.pinning import Resolution


@dataclass
class ResolveStats:
    references: int = 0
    from_lock: int = 0
    from_cache: int = 0
    requests: int = 0
    failed: int = 0

    def merged(self, other: ResolveStats) -> ResolveStats:
        """Both resolutions' counts together (a run resolves once per set of registry settings)."""
        return ResolveStats(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))


def resolve_references(keys: set[str], config, offline: bool) -> tuple[dict[str, Resolution], ResolveStats]:
    """Raises InputError (one line, naming the file) for an unusable lock file or CA bundle."""
    from hardener.registry.cache import DigestCache, read_lock_file

    stats = ResolveStats(references=len(keys))
    results: dict[str, Resolution] = {}
    if not keys:
        return results, stats
    # Files named in settings are relative to the settings file that names them.
    base = Path(os.path.dirname(config.source)) if config.source else Path(".")
    if config.digest_lock_file:
        locked = read_lock_file(base / config.digest_lock_file)
        results.update({k: locked[k] for k in keys if k in locked})
        stats.from_lock = len(results)
    cache = DigestCache()
    for key in sorted(keys - results.keys()):
        found = cache.get(key, None if offline else config.digest_cache_ttl)
        if found is not None:
            results[key] = found
    stats.from_cache = cache.hits
    missing = keys - results.keys()
    if missing and offline:
        for key in missing:
            results[key] = Resolution(key, error="not resolved: --offline, and no cached or locked digest")
    elif missing:
        from hardener.registry.client import RegistryClient
        from hardener.registry.credentials import DockerCredentials

        with RegistryClient(
            DockerCredentials(),
            insecure_registries=config.insecure_registries,
            ca_bundle=str(base / config.registry_ca_bundle) if config.registry_ca_bundle else None,
        ) as client:
            for key, resolution in client.resolve_many(missing).items():
                results[key] = resolution
                cache.put(resolution)
            stats.requests = client.requests
        cache.save()
    stats.failed = sum(1 for r in results.values() if r.digest is None)
    return results, stats
