"""CPU time of `check` and `fix` as inputs grow tenfold: compose services, Dockerfile instructions and stages, heredocs.

    python benchmarks/scaling.py [--runs 3] [--output FILE]

Each measurement runs hardener's engine (`check_text`, `fix_text` with
--unsafe-fixes, no registry) in a fresh process and takes the median CPU time
over --runs. Linear growth shows as a ratio near 10 between the two sizes.
For Dockerfiles, the time BuildKit's own parser takes is shown apart: it grows
with the square of a heredoc's length, which is why heredocs are limited to
`hardener.dockerfile.document.MAX_HEREDOC_LINES` lines.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# (label, generator, small, large)
CASES = (
    ("compose services", "compose", 800, 8_000),
    ("Dockerfile instructions", "instructions", 800, 8_000),
    ("heredoc lines", "heredoc", 1_000, 10_000),
    ("Dockerfile stages", "stages", 800, 8_000),
)


def compose(services: int) -> str:
    """Services as projects write them: ports, environment, volumes; some extend or merge a shared anchor."""
    lines = ["x-common: &common", "  restart: unless-stopped", "  logging:", "    driver: json-file", "services:"]
    for i in range(services):
        lines += [f"  app{i}:"]
        if i % 10 == 9:
            lines += [f"    extends: app{i - 1}", f"    command: ['serve', '--shard', '{i}']"]
            continue
        lines += [
            f"    image: registry.example/team/app{i % 50}:1.{i % 7}",
            "    <<: *common" if i % 5 == 0 else "    init: true",
            "    ports:",
            f'      - "{8000 + i % 1000}:80"',
            "    environment:",
            f"      - SHARD={i}",
            "    volumes:",
            f"      - ./data/{i}:/var/lib/app",
        ]
    return "\n".join(lines) + "\n"


def instructions(count: int) -> str:
    """Stages of about 50 instructions each, with findings that have fixes (ADD, apt-get, no USER)."""
    lines = []
    for i in range(count // 4):
        if i % 12 == 0:
            lines += ["# build stage", f"FROM debian:12 AS stage{i}"]
        lines += [
            f"# step {i}",
            f"RUN apt-get update && apt-get install curl{i % 9} && echo {i}",
            f"ENV STEP_{i}=done",
            f"ADD files/{i}.txt /opt/files/{i}.txt",
        ]
    return "\n".join(lines) + '\nCMD ["sh"]\n'


def stages(count: int) -> str:
    """Many small stages, each built on the one before every tenth time."""
    lines = []
    for i in range(count):
        base = f"s{i - 1}" if i % 10 else "debian:12"
        lines += [f"FROM {base} AS s{i}", f"RUN apt-get install curl{i % 9}"]
    return "\n".join(lines) + "\n"


def heredoc(body_lines: int) -> str:
    body = "\n".join(f"apt-get install pkg{i} && echo line {i}" for i in range(body_lines))
    return f'FROM debian:12\nRUN <<EOF\n{body}\nEOF\nADD notes.txt /notes.txt\nCMD ["sh"]\n'


# Runs in a fresh interpreter: times one operation on one generated input.
_PROBE = """
import json, sys, time
sys.path.insert(0, {root!r})
from benchmarks import scaling
from hardener import engine
from hardener.config import Config
generator, size, operation = sys.argv[1], int(sys.argv[2]), sys.argv[3]
text = getattr(scaling, generator)(size)
path = "compose.yaml" if generator == "compose" else "Dockerfile"
parser_seconds = 0.0
if path == "Dockerfile":
    import dockerfile
    real_parse = dockerfile.parse_string
    def timed_parse(source):
        global parser_seconds
        start = time.process_time()
        try:
            return real_parse(source)
        finally:
            parser_seconds += time.process_time() - start
    dockerfile.parse_string = timed_parse
config = Config(unsafe_fixes=True)
start = time.process_time()
if operation == "check":
    outcome = len(engine.check_text(text, path, config))
else:
    result = engine.fix_text(text, path, config)
    assert result.verification_error is None, result.verification_error
    outcome = len(result.applied)
seconds = time.process_time() - start
print(json.dumps({{"seconds": seconds, "parser": parser_seconds, "bytes": len(text), "count": outcome}}))
"""


def measure(generator: str, size: int, operation: str, runs: int) -> dict:
    samples = []
    for _ in range(runs):
        done = subprocess.run(
            [sys.executable, "-c", _PROBE.format(root=str(ROOT)), generator, str(size), operation],
            capture_output=True,
            text=True,
            check=True,
        )
        samples.append(json.loads(done.stdout))
    middle = sorted(samples, key=lambda s: s["seconds"])[len(samples) // 2]
    return {**middle, "seconds": statistics.median(s["seconds"] for s in samples)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--output", type=Path, help="also write the table to this file")
    args = parser.parse_args()
    rows = [
        "| input | operation | size | file size | CPU seconds | BuildKit's parser | ratio | ratio without the parser |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for label, generator, small, large in CASES:
        for operation in ("check", "fix"):
            first = measure(generator, small, operation, args.runs)
            second = measure(generator, large, operation, args.runs)
            for size, m in ((small, first), (large, second)):
                parser_time = f"{m['parser']:.2f}" if generator != "compose" else "–"
                ratio = own_ratio = ""
                if m is second:
                    ratio = f"{second['seconds'] / first['seconds']:.1f}"
                    own = [x["seconds"] - x["parser"] for x in (first, second)]
                    own_ratio = f"{own[1] / own[0]:.1f}" if generator != "compose" else ratio
                rows.append(
                    f"| {label} | {operation} | {size:,} | {m['bytes'] / 1024:,.0f} KiB | {m['seconds']:.2f} "
                    f"| {parser_time} | {ratio} | {own_ratio} |"
                )
            print(rows[-1], file=sys.stderr)
    table = "\n".join(rows) + "\n"
    print(table)
    if args.output:
        args.output.write_text(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
