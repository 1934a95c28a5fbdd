"""A hostile Python module costs one error line, never the run: no crash, no traceback, other files still done.

libcst's native parser overflows its stack (SIGSEGV) on a few KB of nested brackets, its Python side
raises RecursionError on long chains; the CLI runs in a subprocess here, so a crash fails the test
instead of killing pytest.
"""

import pytest

from hardener.engine import check_text
from hardener.model import InputError
from hardener.python import shape

CALL = "docker.from_env().containers.run('redis:7')\n"
NESTED = "(" * 1400 + "1" + ")" * 1400  # 2.8 KB: libcst's parser overflows its stack near 1,270 levels

HOSTILE = {
    # name: (module, line of the error, words in it)
    "nested brackets": ("import docker\n\nclient = docker.from_env()\nx = " + NESTED + "\n" + CALL, 4, "too deeply nested"),
    "nested lists": ("import docker\nx = " + "[" * 1400 + "]" * 1400 + "\n" + CALL, 2, "too deeply nested"),
    "nested f-strings": ("import docker\nx = " + "f'{" * 1200 + "1" + "}'" * 1200 + "\n" + CALL, 2, "too deeply nested"),
    "3,000 terms": ("import docker\nx = 1" + " + 1" * 2999 + "\n" + CALL, 2, "too deeply nested"),
    "500 terms": ("import docker\n" + CALL + "x = 1" + " + 1" * 500 + "\n", 3, "nested over 100 levels"),
    "a long boolean chain": ("import docker\n" + CALL + "ok = a" + " and a" * 400 + "\n", 3, "nested over 100 levels"),
    "a long attribute chain": ("import docker\n\n\nx = a" + ".b" * 3000 + "\n" + CALL, 4, "too deeply nested"),
    "deep unary operators": ("import docker\nx = " + "-" * 20000 + "1\n" + CALL, 2, "too deeply nested"),
    "nested calls in the SDK call": (
        "import docker\ndocker.from_env().containers.run('x', mem_limit=" + "f(" * 150 + ")" * 150 + ")\n",
        2,
        "nested over 100 levels",
    ),
}


@pytest.mark.parametrize("text,line,words", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_shapes_are_one_input_error(text, line, words):
    with pytest.raises(InputError) as error:
        check_text(text, "app.py")
    assert words in error.value.message and error.value.line == line, str(error.value)


def test_a_module_that_crashes_the_parser_costs_one_error_line(tmp_path, run_cli):
    (tmp_path / "app.py").write_text(HOSTILE["nested brackets"][0])
    (tmp_path / "start.py").write_text("import docker\n" + CALL)
    (tmp_path / "Dockerfile").write_text("FROM debian:12\nRUN apt-get update\nRUN apt-get install -y curl\n")
    for command in (("check",), ("fix", "--diff"), ("fix",)):
        result = run_cli(*command, ".")
        assert result.returncode == 2, result.stdout + result.stderr
        errors = [line for line in (result.stdout + result.stderr).splitlines() if line.startswith("error:")]
        assert errors == ["error: app.py:4: too deeply nested for Python's parser (too many nested parentheses)"]
        assert "Traceback" not in result.stderr and "start.py" in result.stdout and "Dockerfile" in result.stdout
    assert "security_opt" in (tmp_path / "start.py").read_text(), "the other files are still fixed"
    assert (tmp_path / "app.py").read_text() == HOSTILE["nested brackets"][0]


# Syntax this Python does not know (3.12 `type` aliases on 3.11, for example) goes to libcst in a
# separate process first, where a crash costs only that process.
NEWER = "import docker\n" + "x = [*a for a in b]\n"  # CPython rejects it, whatever its version; libcst reads it


def test_a_crash_in_the_separate_process_is_one_input_error():
    text = NEWER + "y = " + "-" * 200000 + "1\n" + CALL
    with pytest.raises(InputError, match="too deeply nested for the Python parser") as error:
        check_text(text, "app.py")
    assert error.value.line == 3


def test_invalid_python_keeps_libcst_message_and_line():
    with pytest.raises(InputError, match=r"invalid Python: .*error at 2:5: expected NAME"):
        check_text("import docker\ndef (:\n" + CALL, "app.py")


def test_the_separate_process_sees_nothing_of_ours(tmp_path, monkeypatch):
    # A module named like libcst in the working folder, and PYTHON* settings, are not picked up.
    (tmp_path / "libcst.py").write_text("raise SystemExit('imported from the working folder')\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    assert [f.rule for f in check_text(NEWER + CALL, "app.py") if f.rule == "HD301"] == ["HD301"]


def test_nesting_up_to_the_limit_is_read():
    value = "f(" * (shape.MAX_NESTING - 10) + ")" * (shape.MAX_NESTING - 10)
    text = "import docker\nx = 1" + " + 1" * (shape.MAX_NESTING - 5) + "\n" + CALL + f"y = {value}\n"
    assert [f.rule for f in check_text(text, "app.py") if f.rule == "HD301"] == ["HD301"]


def test_the_parse_runs_in_a_stack_of_its_own():
    # Called from a thread with a small stack (as on platforms whose threads get 512 KB), CPython-valid
    # nesting is still read: libcst does not run on the caller's stack.
    import threading

    text = "import docker\nx = " + "(" * 199 + "1" + ")" * 199 + "\n" + CALL
    found = []
    previous = threading.stack_size(512 * 1024)
    try:
        thread = threading.Thread(target=lambda: found.extend(check_text(text, "app.py")))
        thread.start()
    finally:
        threading.stack_size(previous)
    thread.join()
    assert "HD301" in [f.rule for f in found]


def test_warnings_of_the_python_parser_stay_out_of_the_output(tmp_path, run_cli):
    (tmp_path / "app.py").write_text("import docker\nif docker is 1:\n    assert (docker, 'x')\n" + CALL)
    result = run_cli("check", ".")
    assert result.returncode == 1 and "Warning" not in result.stdout + result.stderr, result.stderr


def test_isolated_parse_times_out_cleanly(monkeypatch):
    monkeypatch.setattr(shape, "ISOLATED_TIMEOUT", 0.001)
    with pytest.raises(InputError, match="not parsed in"):
        check_text(NEWER + CALL, "app.py")
