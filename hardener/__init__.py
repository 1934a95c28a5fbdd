"""hardener: harden container definitions with minimal, verified text edits.

The public API is small, typed and import-light: heavy modules load only when a function that needs
them is called.

    >>> import hardener
    >>> result = hardener.fix_text("FROM debian:12\\nRUN apt-get update\\nRUN apt-get install -y curl\\n")
    >>> print(result.fixed, end="")
    FROM debian:12
    RUN apt-get update && \\
        apt-get install -y curl && \\
        rm -rf /var/lib/apt/lists/*

`check_text` returns the findings; `fix_text` a `FixResult` with the fixed text, the fixes applied (each
with its edits in the original text) and what is left. Neither reads or writes any file: the caller
gives the text, its path (which picks its kind: a Dockerfile, a compose file or Python) and a `Config`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

__version__ = "0.1.0"

__all__ = [
    "AppliedFix",
    "Config",
    "Edit",
    "Finding",
    "Fix",
    "FixResult",
    "InputError",
    "Severity",
    "Tier",
    "__version__",
    "check_text",
    "fix_text",
]

if TYPE_CHECKING:
    from hardener.config import Config
    from hardener.model import AppliedFix, Edit, Finding, Fix, FixResult, InputError, Severity, Tier

# Names served from their modules on first use, so `import hardener` stays cheap.
_LAZY = {
    "Config": "hardener.config",
    "AppliedFix": "hardener.model",
    "Edit": "hardener.model",
    "Finding": "hardener.model",
    "Fix": "hardener.model",
    "FixResult": "hardener.model",
    "InputError": "hardener.model",
    "Severity": "hardener.model",
    "Tier": "hardener.model",
}


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'hardener' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)


def check_text(
    text: str, path: str = "Dockerfile", config: Config | None = None, *, kind: str | None = None
) -> list[Finding]:
    """The findings for one file's text, in line order.

    `path` names the file in findings and picks its kind unless `kind` ("dockerfile", "compose" or
    "python") is given; `config` defaults to the built-in settings. Bad input raises `InputError`
    naming the line.
    """
    from hardener.engine import check_text as _check_text

    return _check_text(text, path=path, config=config, kind=kind)


def fix_text(
    text: str, path: str = "Dockerfile", config: Config | None = None, *, kind: str | None = None
) -> FixResult:
    """Fix one file's text: safe fixes, and behaviour-changing ones too when `config.unsafe_fixes` is set.

    Every fix is verified before it is returned (the result re-parses, a second run changes nothing,
    nothing outside the fixes moved; compose files are also checked with Docker Compose when it is
    installed and `config.compose_check` is on). When a check fails, `FixResult.fixed` is the original
    text and `verification_error` says why. Bad input raises `InputError` naming the line.
    """
    from hardener.engine import fix_text as _fix_text

    return _fix_text(text, path=path, config=config, kind=kind)
