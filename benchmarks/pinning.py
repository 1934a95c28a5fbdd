"""Benchmark digest resolution: 200 unique references against a local registry with added latency.

    python benchmarks/pinning.py [--references 200] [--latency-ms 50]

Starts Debian's docker-registry on loopback behind a proxy that delays every
request, tags one image under N names, then resolves all N references twice
through hardener's resolver: cold (empty cache) and warm. Prints a markdown
table: wall time, registry requests, cache hits.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hardener.config import Config  # noqa: E402
from hardener.pinning import reference_key  # noqa: E402
from hardener.registry.resolve import resolve_references  # noqa: E402
from tests.registry_server import FaultProxy, start_registry  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--references", type=int, default=200)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        registry = start_registry(Path(tmp) / "registry")
        try:
            image = registry.push_image("library/python", "base", platforms=("linux/amd64", "linux/arm64"))
            with registry._client() as client:
                index = client.get(
                    f"/v2/library/python/manifests/{image['index']}",
                    headers={"Accept": "application/vnd.oci.image.index.v1+json"},
                ).content
                for n in range(args.references):
                    client.put(
                        f"/v2/library/python/manifests/bench-{n}",
                        content=index,
                        headers={"Content-Type": json.loads(index)["mediaType"]},
                    ).raise_for_status()

            def slow(method, path, headers):
                time.sleep(args.latency_ms / 1000)
                return None

            proxy = FaultProxy(registry.url, slow)
            keys = {reference_key(f"{proxy.host}/library/python:bench-{n}") for n in range(args.references)}
            os.environ["HARDENER_CACHE_DIR"] = str(Path(tmp) / "cache")
            rows = []
            for label in ("cold (empty cache)", "warm (cached)"):
                start = time.perf_counter()
                results, stats = resolve_references(keys, Config(), offline=False)
                elapsed = time.perf_counter() - start
                pinned = sum(1 for r in results.values() if r.digest == image["index"])
                rows.append((label, elapsed, stats.requests, stats.from_cache, pinned))
            proxy.shutdown()
        finally:
            registry.stop()
    print(
        f"{args.references} unique references, {args.latency_ms:g} ms added to every registry request, "
        f"8 resolved at a time, on {os.cpu_count()} CPUs\n"
    )
    print("| run | wall time | registry requests | cache hits | pinned to the index digest |")
    print("|---|---|---|---|---|")
    for label, elapsed, requests, hits, pinned in rows:
        print(f"| {label} | {elapsed:.2f} s | {requests} | {hits} | {pinned} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
