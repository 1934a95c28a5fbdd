"""Python modules that start containers with the docker SDK: located with libcst."""

from __future__ import annotations

from hardener.kinds import FileKind
from hardener.model import VerificationError


class PythonKind(FileKind):
    name = "python"
    document_bytes_per_char = 700  # libcst keeps the whole tree
    patterns = ("*.py",)
    plural = "Python modules"
    parsed_with = "with libcst and Python's compiler"
    found_by_content = True

    def is_relevant(self, text: str) -> bool:
        from hardener.python.document import imports_docker

        return imports_docker(text)

    def parse(self, text: str, path: str):
        from hardener.python.document import PythonDocument

        return PythonDocument(text, path)

    def verify(self, before, after) -> None:
        problem = _compile_problem(after.text, after.path)
        # Syntax newer than this Python: libcst read both texts, and compile() cannot judge them.
        if problem and _compile_problem(before.text, before.path) is None:
            raise VerificationError(f"the fixed module does not compile: {problem}")

    def pin_targets(self, document):
        from hardener.python.pins import pin_targets

        return pin_targets(document)


def _compile_problem(text: str, path: str) -> str | None:
    """Why CPython cannot compile the module, or None. Compiling runs nothing; its warnings
    (invalid escapes and the like) are the module's business, not the report's."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            compile(text, path, "exec")
        except SyntaxError as exc:
            return f"{exc.msg} (line {exc.lineno})"
        except (ValueError, MemoryError, RecursionError) as exc:
            return type(exc).__name__
    return None


KIND = PythonKind()
