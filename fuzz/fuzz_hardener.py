"""Coverage-guided fuzzing of hardener's fix_text with atheris (libFuzzer).

The first byte of an input picks the kind (Dockerfile, compose file, Python module);
the rest is decoded as UTF-8 (inputs that do not decode are skipped). Every rule runs with
behaviour-changing fixes on (pinning off: it needs a registry). A crash is any exception
other than InputError, or a fixed text that a second run changes.

    python fuzz/fuzz_hardener.py fuzz/seeds -max_total_time=3600
"""

from __future__ import annotations

import os
import sys

import atheris

with atheris.instrument_imports():
    from hardener.config import Config
    from hardener.engine import fix_text
    from hardener.model import InputError
    from hardener.rules import all_rules

# The pinning rules need a registry: off.
CONFIG = Config(unsafe_fixes=True, ignore=tuple(rule.id for rule in all_rules() if rule.pins_images))
PATHS = ("Dockerfile", "compose.yaml", "app.py")

# Bugs already reported, each with an xfail(strict=True) test in tests/test_fuzz_short.py: inputs that
# hit them are skipped so the fuzzer looks for new ones. HARDENER_FUZZ_STRICT=1 turns this off; remove
# an entry when its bug is fixed (the xfail test then fails and says so).
KNOWN_BUGS: dict = {}  # path -> pattern of inputs hitting a known, not yet fixed bug (none now)
STRICT = os.environ.get("HARDENER_FUZZ_STRICT") == "1"


def TestOneInput(data: bytes) -> None:  # noqa: N802 (atheris' name)
    if not data:
        return
    path = PATHS[data[0] % len(PATHS)]
    try:
        text = data[1:].decode("utf-8")
    except UnicodeDecodeError:
        return
    known = KNOWN_BUGS.get(path)
    if known is not None and not STRICT and known.search(text):
        return
    try:
        result = fix_text(text, path, CONFIG)
    except InputError:
        return
    if result.changed:
        again = fix_text(result.fixed, path, CONFIG)
        if again.fixed != result.fixed:
            raise AssertionError(f"{path}: a second run changed the fixed text:\n{result.fixed!r}\n->\n{again.fixed!r}")


def main() -> None:
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
