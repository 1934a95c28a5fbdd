"""Edits to Dockerfile instructions, written in the file's own style.

Each function returns Edit objects at exact offsets, or None when the
instruction is laid out in a way the edit cannot be made cleanly.
"""

from __future__ import annotations

from hardener.dockerfile.shell import Word
from hardener.dockerfile.style import continuation_style
from hardener.model import Edit


def insert_after_word(instr, word: Word, text: str) -> Edit | None:
    span = instr.raw_span(word.start, word.end)
    return None if span is None else Edit.insert(span[1], text)


def script_end(instr) -> int | None:
    """File offset just past the RUN's last command character."""
    script = instr.script
    if script is None or not script.commands:
        return None
    span = instr.raw_span(script.end - 1, script.end)
    return None if span is None else span[1]


# Shells that read `a && b` as POSIX sh does.
POSIX_SHELLS = frozenset({"sh", "bash", "ash", "dash", "zsh", "ksh", "mksh", "busybox"})


def non_posix_shell(instr) -> str | None:
    """The program a SHELL instruction set for this RUN when it is not a POSIX shell (pwsh, cmd, ...)."""
    stage = instr.stage
    for s in stage.lineage if stage is not None else ():
        earlier = [i for i in _shell_instructions(s) if s is not stage or i.index < instr.index]
        if earlier:
            shell = earlier[-1]
            if not (shell.is_json and shell.value):
                return shell.args.strip() or "SHELL"  # not the JSON form BuildKit needs: unknown
            program = shell.value[0]
            return None if program.rsplit("/", 1)[-1] in POSIX_SHELLS else program
    return None


def _shell_instructions(stage) -> list:
    """A stage's SHELL instructions (found once per stage: every RUN with a finding asks)."""
    found = getattr(stage, "_shell_instructions", None)
    if found is None:
        found = stage._shell_instructions = [i for i in stage.instructions if i.keyword == "SHELL"]
    return found


def can_extend(script) -> bool:
    """A command appended with && keeps the RUN's failure behaviour."""
    return (
        script is not None
        and bool(script.commands)
        and not script.complex
        and not script.has_comment
        and script.commands[-1].operator_after is None
        # A trailing backslash would escape the space before the appended &&.
        and not script.source[: script.end].endswith("\\")
    )


def append_command(document, instr, command: str) -> Edit | None:
    """Append `&& command` to a shell-form RUN, on a new line when the RUN spans lines."""
    if not can_extend(instr.script):
        return None
    at = script_end(instr)
    if at is None:
        return None
    if instr.start_line == instr.end_line:
        return Edit.insert(at, f" && {command}")
    style = continuation_style(document, [instr])
    return Edit.insert(at, style.join(document.escape, document.eol) + command)


def merge_runs(document, first, second) -> Edit | None:
    """Join `second` onto `first` with &&: one edit over the gap between their commands."""
    at = script_end(first)
    if at is None or not second.args:
        return None
    second_start = second.raw_span(0, 1)
    if second_start is None:
        return None
    if "#" in document.text[at : second_start[0]]:
        return None  # a comment line sits inside the gap: joining would delete it
    style = continuation_style(document, [second, first])
    return Edit(at, second_start[0], style.join(document.escape, document.eol))


def ends_in_continuation(document, instr) -> bool:
    """The instruction's last line ends with the escape character (possible only at the end of the file)."""
    last = document.index.line_text(instr.end_line).rstrip(" \t")
    return last.endswith(document.escape) and not last.lstrip().startswith("#")


def insert_lines_after(document, instr, lines: list[str]) -> Edit | None:
    """New lines right after an instruction (after its line ending), or None when they would join it."""
    if ends_in_continuation(document, instr):
        return None
    eol = document.eol
    body = "".join(line + eol for line in lines)
    end = document.index.line_end(instr.end_line, keep_eol=True)
    if end == len(document.text) and not document.text.endswith("\n"):
        # The file ends without a newline: keep it that way.
        return Edit.insert(end, eol + body[: -len(eol)])
    return Edit.insert(end, body)
