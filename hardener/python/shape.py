"""Python modules whose shape would bring the run down, turned away before libcst reads them.

libcst's native parser recurses once per level of nesting and overflows the C stack (the process
dies with SIGSEGV) past about 1,200 nested brackets: a 3 KB module. Its Python side raises
RecursionError a few hundred levels down (`1 + 1 + ...` with 500 terms), and its parse time grows
with the square of the length of such a chain. CPython's own parser has limits and fails cleanly,
so a module is first read with `ast`, which costs a tenth of libcst's parse:

- beyond CPython's limits (brackets, indentation, its parser stack): bad input, with the line;
- within them, the nesting is measured as libcst counts it (there `a and b and c` nests once per
  operand) and held to MAX_NESTING;
- a plain syntax error may be syntax newer than this Python, which libcst may know: libcst then
  reads the module first in a separate process, where a crash costs only that process.

libcst itself runs in a thread with a stack of its own (`run_with_stack`), so what it can read
does not depend on the thread, platform or depth it was called from.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import threading
import warnings

from hardener.model import InputError

MAX_NESTING = 100  # levels of nested expressions and statements; real code stays far below
PARSE_STACK = 64 * 1024 * 1024  # bytes; CPython-valid nesting needs under 8 MB in libcst's parser
ISOLATED_STACK = PARSE_STACK // 2  # smaller, so what parses there also parses here
ISOLATED_TIMEOUT = 30  # seconds for the separate process

# SyntaxError messages that mean "nested beyond CPython's limits", not "not Python".
_TOO_DEEP = ("too many nested", "too many levels of indentation", "nested too deeply", "too complex")
_warnings_lock = threading.Lock()
_stack_lock = threading.Lock()


def check(text: str, path: str) -> None:
    """Raise InputError for a module libcst must not be given."""
    try:
        tree = _cpython_ast(text)
    except (RecursionError, MemoryError):
        raise InputError("too deeply nested for Python's parser", busiest_line(text), path) from None
    except SyntaxError as exc:
        if any(part in str(exc.msg) for part in _TOO_DEEP):
            raise InputError(f"too deeply nested for Python's parser ({exc.msg})", exc.lineno or 0, path) from None
        _parse_isolated(text, path)  # perhaps newer syntax: let libcst decide, where a crash costs nothing
        return
    except ValueError:  # NUL bytes: libcst gives the message
        _parse_isolated(text, path)
        return
    depth, line = nesting(tree)
    if depth > MAX_NESTING:
        raise InputError(f"nested over {MAX_NESTING} levels deep; hardener does not read such code", line, path)


def _cpython_ast(text: str) -> ast.AST:
    # Invalid escapes and the like would print warnings naming the file: not part of a report.
    with _warnings_lock, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ast.parse(text)


def nesting(tree: ast.AST) -> tuple[int, int]:
    """(deepest level, its line), counted without recursion; stops once over MAX_NESTING."""
    stack = [(tree, 0, 1)]
    while stack:
        node, depth, line = stack.pop()
        line = getattr(node, "lineno", line)
        if depth > MAX_NESTING:
            return depth, line
        # libcst nests a boolean chain once per operand, where ast keeps one flat node.
        step = len(node.values) if isinstance(node, ast.BoolOp) else 1
        stack.extend((child, depth + step, line) for child in ast.iter_child_nodes(node))
    return 0, 0


def busiest_line(text: str) -> int:
    """The line an error with no position most likely comes from: the longest one."""
    lines = text.splitlines() or [""]
    return max(range(len(lines)), key=lambda i: len(lines[i])) + 1


def run_with_stack(function, stack_size: int = PARSE_STACK):
    """function() in a new thread with a stack of `stack_size` bytes; its result or its exception."""
    outcome: dict = {}

    def target():
        try:
            outcome["value"] = function()
        except BaseException as exc:  # handed to the calling thread
            outcome["error"] = exc

    with _stack_lock:
        try:
            previous = threading.stack_size(stack_size)
        except (ValueError, RuntimeError):  # not settable here: the default stack
            previous = None
        try:
            thread = threading.Thread(target=target, name="hardener-python-parse", daemon=True)
            thread.start()
        finally:
            if previous is not None:
                threading.stack_size(previous)
    thread.join()
    if "error" in outcome:
        raise outcome.pop("error")
    return outcome.get("value")


# The separate process: only libcst is imported (-I: nothing from the working directory or the
# environment), the text comes on stdin, and it answers with one JSON line.
_CHILD = """
import json, sys, threading
import libcst
text = sys.stdin.buffer.read().decode("utf-8", "surrogatepass")
answer = {}
def parse():
    try:
        libcst.parse_module(text)
    except libcst.ParserSyntaxError as exc:
        answer.update(message=exc.message, line=exc.raw_line)
    except RecursionError:
        answer.update(message="too deeply nested", line=0)
threading.stack_size(int(sys.argv[1]))
thread = threading.Thread(target=parse)
thread.start()
thread.join()
sys.stdout.write(json.dumps(answer))
"""


def _parse_isolated(text: str, path: str) -> None:
    """Let libcst read the module in a separate process first; raise InputError when it cannot."""
    env = {key: os.environ[key] for key in ("SYSTEMROOT",) if key in os.environ}
    try:
        child = subprocess.run(
            [sys.executable, "-I", "-c", _CHILD, str(ISOLATED_STACK)],
            input=text.encode("utf-8", "surrogatepass"),
            capture_output=True,
            env=env,
            timeout=ISOLATED_TIMEOUT,
        )
    except subprocess.TimeoutExpired:
        raise InputError(f"Python too complex: not parsed in {ISOLATED_TIMEOUT} s", busiest_line(text), path) from None
    except OSError as exc:
        raise InputError(f"cannot start Python to parse the module ({exc.strerror})", 0, path) from None
    if child.returncode < 0:  # killed by a signal: the parser overflowed its stack
        raise InputError("too deeply nested for the Python parser", busiest_line(text), path)
    try:
        answer = json.loads(child.stdout)
    except ValueError:
        answer = None
    if child.returncode != 0 or not isinstance(answer, dict):
        raise InputError("the Python parser failed on this module", 0, path)
    if answer.get("message"):
        line = answer.get("line")
        raise InputError(f"invalid Python: {answer['message']}", line if isinstance(line, int) else 0, path)
