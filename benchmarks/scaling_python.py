"""CPU time of `check` on one Python module as its longest expression grows.

    python benchmarks/scaling_python.py [--lengths 25,50,95,100,200,400,800,1600,3200] [--runs 3]

Each module imports docker, starts one container, and holds one expression of N terms, in shapes
that nest (a chain of `+`, of attributes, of `and`) and shapes that stay flat (a list, a chained
comparison). libcst's parse time grows with the square of a nesting chain; hardener reads chains
up to hardener.python.shape.MAX_NESTING levels and answers longer ones with one error line, so
the time stays linear in the size of the module. Prints a markdown table: milliseconds of CPU
per module (median of --runs), marked `error` where the module is reported as too deeply nested.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hardener.engine import check_text  # noqa: E402
from hardener.model import InputError  # noqa: E402

SHAPES = {
    "`1 + 1 + …`": lambda n: "x = 1" + " + 1" * (n - 1),
    "`a.b.b…`": lambda n: "x = a" + ".b" * (n - 1),
    "`a and a …`": lambda n: "x = a" + " and a" * (n - 1),
    "`[1, 1, …]`": lambda n: "x = [" + "1, " * n + "]",
    "`1 < 2 < …`": lambda n: "x = 1" + " < 2" * (n - 1),
}


def cpu_ms(text: str, runs: int) -> str:
    times, refused = [], False
    for _ in range(runs):
        start = time.process_time()
        try:
            check_text(text, "app.py")
        except InputError:
            refused = True
        times.append((time.process_time() - start) * 1000)
    return f"{statistics.median(times):.1f}" + (" error" if refused else "")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", default="25,50,95,100,200,400,800,1600,3200")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    lengths = [int(n) for n in args.lengths.split(",")]
    check_text("import docker\nx = 1\n", "warm.py")  # imports outside the measurement
    lines = ["| expression, N terms | " + " | ".join(f"{n:,}" for n in lengths) + " |"]
    lines.append("|---|" + "---:|" * len(lengths))
    for name, make in SHAPES.items():
        cells = []
        for n in lengths:
            text = "import docker\n" + make(n) + "\ndocker.from_env().containers.run('redis:7')\n"
            cells.append(cpu_ms(text, args.runs))
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
        print(lines[-1], file=sys.stderr)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
