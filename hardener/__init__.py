"""hardener: harden container definitions with minimal, verified text edits.

The public API is deliberately small and import-light: heavy modules load only
when a function that needs them is called.
"""

__version__ = "0.1.0"

__all__ = ["__version__", "check_text", "fix_text"]


def check_text(text, path="Dockerfile", config=None):
    """Return the findings for one file's text (no I/O)."""
    from hardener.engine import check_text as _check_text

    return _check_text(text, path=path, config=config)


def fix_text(text, path="Dockerfile", config=None):
    """Return a FixResult for one file's text (no I/O)."""
    from hardener.engine import fix_text as _fix_text

    return _fix_text(text, path=path, config=config)
