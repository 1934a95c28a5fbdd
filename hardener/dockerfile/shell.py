"""A small POSIX-shell tokenizer for RUN commands.

It only has to locate things (commands, their words, the operators between
them) with exact offsets; it never rewrites a command. Anything it does not
understand marks the script as complex, and rules then stay away from it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property

OPERATORS = ("&&", "||", ";;", ";", "|", "&")
CONTROL_WORDS = frozenset(
    {
        "if",
        "then",
        "else",
        "elif",
        "fi",
        "for",
        "while",
        "until",
        "do",
        "done",
        "case",
        "esac",
        "!",
        "{",
        "}",
        "function",
    }
)
# Words that run the command named after them, with their options that take a value
# (`sudo -n` takes none, `nice -n 10` does).
WRAPPER_OPTION_VALUES = {
    "sudo": frozenset(
        {"-u", "-g", "-C", "-D", "-p", "-r", "-t", "-T", "-U", "--user", "--group", "--close-from", "--chdir"}
        | {"--prompt", "--role", "--type", "--command-timeout", "--other-user"}
    ),
    "doas": frozenset({"-u", "-C"}),
    "env": frozenset({"-u", "-C", "-S", "--unset", "--chdir", "--split-string"}),
    "nice": frozenset({"-n", "--adjustment"}),
    "time": frozenset({"-f", "-o", "--format", "--output"}),
    "exec": frozenset({"-a"}),
    "stdbuf": frozenset({"-i", "-o", "-e"}),
    "command": frozenset(),
    "eatmydata": frozenset(),
    "nohup": frozenset(),
    "apt-dpkg-wrap": frozenset(),
    "chronic": frozenset(),
}
COMMAND_PREFIXES = frozenset(WRAPPER_OPTION_VALUES)
# Wrappers that run the command as another user (root, unless told otherwise).
PRIVILEGE_WRAPPERS = frozenset({"sudo", "doas"})


@dataclass(frozen=True)
class Word:
    text: str  # the value with quotes removed (escapes kept literally)
    start: int
    end: int
    quoted: bool = False
    redirect_target: bool = False


@dataclass
class Command:
    words: list[Word]
    start: int
    end: int
    operator_after: str | None = None

    @property
    def program_index(self) -> int | None:
        """Index of the word naming the program run, past assignments and wrappers."""
        return self._located[0]

    @property
    def wrappers(self) -> list[str]:
        """The wrapper programs (sudo, env, ...) the program runs under, outermost first."""
        return self._located[1]

    @cached_property
    def _located(self) -> tuple[int | None, list[str]]:
        wrappers: list[str] = []
        i = 0
        while i < len(self.words):
            w = self.words[i]
            if w.redirect_target:
                i += 1
            elif "=" in w.text and not w.quoted and w.text.split("=", 1)[0].isidentifier():
                i += 1
            elif w.text.rsplit("/", 1)[-1] in COMMAND_PREFIXES:
                wrapper = w.text.rsplit("/", 1)[-1]
                wrappers.append(wrapper)
                takes_value = WRAPPER_OPTION_VALUES[wrapper]
                i += 1
                # Skip the wrapper's own options (sudo -E, env -i, nice -n 10), up to `--`.
                while i < len(self.words) and self.words[i].text.startswith("-"):
                    i += 1
                    if self.words[i - 1].text == "--":
                        break
                    if self.words[i - 1].text in takes_value:
                        i += 1
            else:
                return i, wrappers
        return None, wrappers

    @property
    def program(self) -> str | None:
        i = self.program_index
        return None if i is None else self.words[i].text.rsplit("/", 1)[-1]

    def arguments(self) -> list[Word]:
        i = self.program_index
        if i is None:
            return []
        return [w for w in self.words[i + 1 :] if not w.redirect_target]


@dataclass
class Script:
    source: str
    commands: list[Command] = field(default_factory=list)
    has_comment: bool = False
    # Control flow, subshells, unbalanced quotes: only report, never edit.
    complex: bool = False

    @property
    def is_and_list(self) -> bool:
        """True when the top level is commands joined only by && (pipes inside)."""
        if self.complex or self.has_comment or not self.commands:
            return False
        return all(c.operator_after in (None, "&&", "|") for c in self.commands)

    @property
    def end(self) -> int:
        """Offset just past the last meaningful character."""
        return len(self.source.rstrip(" \t"))


def parse_shell(source: str) -> Script:
    script = Script(source)
    words: list[Word] = []
    cmd_start = None
    i = 0
    n = len(source)
    expect_redirect_target = False

    def finish(op: str | None, at: int) -> None:
        nonlocal words, cmd_start
        if words:
            script.commands.append(Command(words, cmd_start if cmd_start is not None else at, words[-1].end, op))
        elif op is not None and op not in (";",) and script.commands:
            script.complex = True  # e.g. "&& &&"
        words = []
        cmd_start = None

    while i < n:
        ch = source[i]
        if ch in " \t":
            i += 1
            continue
        if ch == "\n":
            finish(";", i)
            i += 1
            continue
        if ch == "#":
            script.has_comment = True
            break
        op = next((o for o in OPERATORS if source.startswith(o, i)), None)
        if op:
            if op == ";;":
                script.complex = True
            finish(op, i)
            i += len(op)
            continue
        if ch in "()":
            script.complex = True
            finish(None, i)
            i += 1
            continue
        if ch in "<>":
            # A redirection: operator (with an optional &fd), then maybe a target word.
            j = i + 1
            while j < n and source[j] in "<>&|-":
                j += 1
            while j < n and source[j].isdigit():
                j += 1
            if cmd_start is None:
                cmd_start = i
            words.append(Word(source[i:j], i, j, redirect_target=True))
            # ">&2" and "<&-" duplicate or close a descriptor: no target word follows.
            expect_redirect_target = re.search(r"&(\d+|-)$", source[i:j]) is None
            i = j
            continue
        start = i
        text, i, quoted, ok = _read_word(source, i)
        if not ok:
            script.complex = True
            break
        # "2>" style: a number directly followed by a redirection operator.
        if i < n and source[i] in "<>" and text.isdigit() and not quoted:
            continue
        if cmd_start is None:
            cmd_start = start
        if not words and not quoted and text in CONTROL_WORDS:
            script.complex = True
        words.append(Word(text, start, i, quoted, redirect_target=expect_redirect_target))
        expect_redirect_target = False
    finish(None, len(source))
    return script


def _read_word(s: str, i: int) -> tuple[str, int, bool, bool]:
    """Read one shell word from s[i:]. Returns (value, end, quoted, ok)."""
    out: list[str] = []
    quoted = False
    n = len(s)
    while i < n:
        ch = s[i]
        if ch in " \t\n;&|()<>":
            break
        if ch == "\\":
            out.append(s[i : i + 2])
            i += 2
        elif ch == "'":
            j = s.find("'", i + 1)
            if j == -1:
                return "", n, True, False
            out.append(s[i + 1 : j])
            quoted = True
            i = j + 1
        elif ch == '"':
            j = i + 1
            while j < n and s[j] != '"':
                j += 2 if s[j] == "\\" else 1
            if j >= n:
                return "", n, True, False
            out.append(s[i + 1 : j])
            quoted = True
            i = j + 1
        elif ch == "$" and i + 1 < n and s[i + 1] in "({":
            j = _matching(s, i + 1)
            if j == -1:
                return "", n, quoted, False
            out.append(s[i : j + 1])
            i = j + 1
        elif ch == "`":
            j = s.find("`", i + 1)
            if j == -1:
                return "", n, quoted, False
            out.append(s[i : j + 1])
            i = j + 1
        else:
            out.append(ch)
            i += 1
    return "".join(out), i, quoted, True


def _matching(s: str, i: int) -> int:
    """Index of the bracket closing the one at s[i], skipping quoted text."""
    pairs = {"(": ")", "{": "}"}
    stack = [pairs[s[i]]]
    i += 1
    while i < len(s):
        ch = s[i]
        if ch == "\\":
            i += 2
            continue
        if ch in "'\"":
            j = s.find(ch, i + 1)
            if j == -1:
                return -1
            i = j + 1
            continue
        if ch in pairs:
            stack.append(pairs[ch])
        elif ch == stack[-1]:
            stack.pop()
            if not stack:
                return i
        i += 1
    return -1
