"""A located view of a Dockerfile.

BuildKit's own parser (the `dockerfile` package) decides where every
instruction starts and ends; this module only adds exact offsets, stages and
a continuation-aware view of each instruction's arguments. Nothing here ever
re-serialises the file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property

from hardener.images import ImageRef
from hardener.model import InputError
from hardener.textedit import LineIndex, detect_eol

KNOWN_INSTRUCTIONS = frozenset(
    {
        "ADD",
        "ARG",
        "CMD",
        "COPY",
        "ENTRYPOINT",
        "ENV",
        "EXPOSE",
        "FROM",
        "HEALTHCHECK",
        "LABEL",
        "MAINTAINER",
        "ONBUILD",
        "RUN",
        "SHELL",
        "STOPSIGNAL",
        "USER",
        "VOLUME",
        "WORKDIR",
    }
)
KNOWN_DIRECTIVES = frozenset({"syntax", "escape", "check"})
# BuildKit's parser appends each heredoc line to the body read so far: its time grows with the
# square of a heredoc's length (minutes for a few megabytes). Longer heredocs are refused first.
MAX_HEREDOC_LINES = 10_000
_HEREDOC_INSTRUCTIONS = frozenset({"RUN", "COPY", "ADD"})
_HEREDOC_MARK = re.compile(r"(?<!<)<<(?!<)(-?)[ \t]*([\"']?)([A-Za-z0-9_][A-Za-z0-9_.-]*)\2")
_DIRECTIVE = re.compile(r"^#[ \t]*([a-zA-Z][a-zA-Z0-9]*)[ \t]*=[ \t]*(.+?)[ \t]*$")
_VARIABLE = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-+])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))")


@dataclass
class LogicalText:
    """An instruction's text with continuations and inner comment lines removed.

    offsets[i] is the offset in the file of logical character i.
    """

    text: str
    offsets: list[int]

    def raw_span(self, start: int, end: int) -> tuple[int, int] | None:
        """The file span of text[start:end], or None when a line break splits it."""
        if start >= end:
            at = self.raw_offset(start)
            return at, at
        first, last = self.offsets[start], self.offsets[end - 1]
        if last - first != end - 1 - start:
            return None
        return first, last + 1

    def raw_offset(self, index: int) -> int:
        """File offset of a position between characters (index may equal len)."""
        if index < len(self.offsets):
            return self.offsets[index]
        return self.offsets[-1] + 1


@dataclass(eq=False)  # each is itself: `in` and == need no field-by-field comparison
class Instruction:
    index: int
    keyword: str  # upper case
    keyword_text: str  # as written (case kept)
    start_line: int
    end_line: int
    start: int  # file offset of the keyword
    end: int  # file offset just past the last character (before the EOL)
    flags: tuple[str, ...]
    value: tuple[str, ...]
    is_json: bool
    heredocs: tuple
    stage: Stage | None = None
    comments_above: tuple[str, ...] = ()
    _document: DockerfileDocument = field(kw_only=True, repr=False)  # the document that parsed it

    @cached_property
    def logical(self) -> LogicalText:
        return self._document._logical(self)

    @cached_property
    def args_start(self) -> int:
        """Index in `logical` where the arguments begin (after keyword and flags)."""
        text = self.logical.text
        i = len(text) - len(text.lstrip())
        i += len(self.keyword_text)
        while True:
            while i < len(text) and text[i] in " \t":
                i += 1
            if text.startswith("--", i):
                while i < len(text) and text[i] not in " \t":
                    i += 1
            else:
                return i

    @property
    def args(self) -> str:
        return self.logical.text[self.args_start :]

    @property
    def has_heredoc(self) -> bool:
        return bool(self.heredocs)

    @property
    def is_shell_form(self) -> bool:
        return not self.is_json and not self.heredocs

    @cached_property
    def script(self):
        """The shell command of a shell-form RUN (None for JSON form and heredocs)."""
        from hardener.dockerfile.shell import parse_shell

        if self.keyword != "RUN" or not self.is_shell_form:
            return None
        return parse_shell(self.args)

    def raw_span(self, start: int, end: int) -> tuple[int, int] | None:
        """File span of args[start:end] (offsets relative to the arguments)."""
        return self.logical.raw_span(self.args_start + start, self.args_start + end)

    def flag(self, name: str) -> list[str]:
        """Values of --name=value flags."""
        prefix = f"--{name}="
        return [f[len(prefix) :] for f in self.flags if f.startswith(prefix)]


@dataclass(eq=False)  # each is itself: `stage in other.lineage` compares no instruction lists
class Stage:
    index: int
    from_instruction: Instruction
    base: str  # as written
    base_resolved: str | None  # ARG-substituted, None when a variable is unknown
    alias: str | None
    parent: Stage | None = None  # when FROM names an earlier stage
    instructions: list[Instruction] = field(default_factory=list)

    @property
    def root_image(self) -> ImageRef | None:
        """The external image this stage builds on, following stage references."""
        stage = self
        while stage.parent is not None:
            stage = stage.parent
        if stage.base_resolved is None:
            return None
        return ImageRef.parse(stage.base_resolved)

    @property
    def lineage(self) -> list[Stage]:
        """This stage and the stages it builds on, nearest first."""
        out: list[Stage] = []
        stage: Stage | None = self
        while stage is not None:
            out.append(stage)
            stage = stage.parent
        return out


class DockerfileDocument:
    def __init__(self, text: str, path: str = "Dockerfile"):
        self.text = text
        self.path = path
        self.index = LineIndex(text)
        self.eol = detect_eol(text)
        self.directives = self._read_directives()
        self.escape = self.directives.get("escape", "\\")
        if self.escape not in ("\\", "`"):
            self.escape = "\\"
        self.instructions = self._parse()
        self.global_args = self._global_args()
        self.stages = self._stages()
        self._attach_comments()

    # -- parsing ---------------------------------------------------------
    def _read_directives(self) -> dict[str, str]:
        """Parser directives at the top, read as BuildKit reads them.

        Leading white space is allowed; an unknown key, a repeated key, a blank
        line, any other comment or an instruction ends them.
        """
        found: dict[str, str] = {}
        for line in self.text.splitlines():
            m = _DIRECTIVE.match(line.strip())
            if not m or m.group(1).lower() not in KNOWN_DIRECTIVES or m.group(1).lower() in found:
                break
            found[m.group(1).lower()] = m.group(2)
        return found

    def _parse(self) -> list[Instruction]:
        import dockerfile  # BuildKit's parser, loaded only when a Dockerfile is read

        if not self.text.strip():
            raise InputError("empty file: no Dockerfile instructions", 1, self.path)
        if "\r" in self.text and "\n" not in self.text:
            # BuildKit would read the whole file as one line (a lone CR inside a line is only a character).
            raise InputError("bare carriage-return line endings (old Mac style) are not supported", 1, self.path)
        self._refuse_long_heredocs()
        try:
            commands = dockerfile.parse_string(self.text)
        except dockerfile.GoParseError as exc:
            raise InputError(f"invalid Dockerfile: {exc}", self._error_line(str(exc)), self.path) from None
        instructions = []
        seen_from = False
        for i, c in enumerate(commands):
            if not c.cmd:
                raise InputError("invalid Dockerfile: a line continuation with no instruction", c.start_line, self.path)
            keyword = c.cmd.upper()
            if keyword not in KNOWN_INSTRUCTIONS:
                raise InputError(f"invalid Dockerfile: unknown instruction {c.cmd}", c.start_line, self.path)
            if keyword == "FROM":
                if not c.value:
                    raise InputError("invalid Dockerfile: FROM requires an image", c.start_line, self.path)
                if len(c.value) not in (1, 3) or (len(c.value) == 3 and c.value[1].upper() != "AS"):
                    raise InputError(
                        "invalid Dockerfile: FROM takes an image and optionally AS name", c.start_line, self.path
                    )
                seen_from = True
            elif not seen_from and keyword != "ARG":
                raise InputError(f"invalid Dockerfile: {keyword} before the first FROM", c.start_line, self.path)
            line = self.index.line_text(c.start_line)
            start = self.index.line_start(c.start_line) + len(line) - len(line.lstrip())
            instructions.append(
                Instruction(
                    index=i,
                    keyword=keyword,
                    keyword_text=line.lstrip()[: len(c.cmd)],
                    start_line=c.start_line,
                    end_line=c.end_line,
                    start=start,
                    end=self.index.line_end(c.end_line, keep_eol=False),
                    flags=tuple(c.flags),
                    value=tuple(c.value),
                    is_json=bool(c.json),
                    heredocs=tuple(c.heredocs),
                    _document=self,
                )
            )
        if not seen_from:
            raise InputError("invalid Dockerfile: no FROM instruction", 1, self.path)
        return instructions

    def _refuse_long_heredocs(self) -> None:
        """Measure heredocs as BuildKit reads them (closely enough to bound its time), before it runs.

        A marker such as <<EOF or <<-'EOF' in a RUN, COPY or ADD opens a body on the line after
        the instruction's last line; the body ends at the line that is exactly its name.
        """
        lines = self.text.split("\n")
        i, keyword, continued, marks = 0, "", False, []
        while i < len(lines):
            line = lines[i].rstrip("\r")
            i += 1
            stripped = line.strip()
            if not stripped or stripped.startswith("#"):
                continue  # blank and comment lines neither start nor end an instruction
            if not continued:
                keyword = stripped.split(None, 1)[0].upper()
            if keyword in _HEREDOC_INSTRUCTIONS:
                marks += [(m.group(1), m.group(3), i) for m in _HEREDOC_MARK.finditer(line)]
            continued = stripped.endswith(self.escape)
            if continued:
                continue
            for chomp, name, opened_on in marks:
                start = i
                while i < len(lines) and (lines[i].rstrip("\r").lstrip("\t" if chomp else "")) != name:
                    i += 1
                if i - start > MAX_HEREDOC_LINES:
                    raise InputError(
                        f"heredoc {name} is {i - start:,} lines long, over the {MAX_HEREDOC_LINES:,}-line limit "
                        "(BuildKit's parser slows down quadratically)",
                        opened_on,
                        self.path,
                    )
                i += 1  # past the line that ends it
            marks = []

    def _error_line(self, message: str) -> int:
        """Find the line BuildKit complains about: the shortest prefix with that error."""
        import dockerfile

        lines = self.text.splitlines(keepends=True)
        lo, hi = 1, len(lines)
        while lo < hi:
            mid = (lo + hi) // 2
            try:
                dockerfile.parse_string("".join(lines[:mid]))
                failed = False
            except dockerfile.GoParseError as exc:
                failed = str(exc) == message
            if failed:
                hi = mid
            else:
                lo = mid + 1
        return lo

    def _logical(self, instr: Instruction) -> LogicalText:
        continuation = re.compile(re.escape(self.escape) + r"[ \t]*$")
        text: list[str] = []
        offsets: list[int] = []
        last_line = instr.start_line if instr.heredocs else instr.end_line
        for ln in range(instr.start_line, last_line + 1):
            line = self.index.line_text(ln)
            base = self.index.line_start(ln)
            if ln == instr.start_line:
                skip = len(line) - len(line.lstrip())
                line, base = line[skip:], base + skip
            elif not line.strip() or line.lstrip().startswith("#"):
                continue  # BuildKit drops blank and comment lines inside continuations
            m = continuation.search(line)
            if m:
                line = line[: m.start()]
            text.append(line)
            offsets.extend(range(base, base + len(line)))
        if not offsets:
            offsets = [instr.start]
        return LogicalText("".join(text), offsets)

    def _global_args(self) -> dict[str, str | None]:
        args: dict[str, str | None] = {}
        for instr in self.instructions:
            if instr.keyword == "FROM":
                break
            if instr.keyword == "ARG":
                args.update(parse_arg_values(instr.value))
        return args

    def _stages(self) -> list[Stage]:
        stages: list[Stage] = []
        named: dict[str, Stage] = {}
        current: Stage | None = None
        for instr in self.instructions:
            if instr.keyword == "FROM":
                base = instr.value[0]
                alias = instr.value[2] if len(instr.value) >= 3 and instr.value[1].upper() == "AS" else None
                resolved = substitute(base, self.global_args)
                current = Stage(len(stages), instr, base, resolved, alias)
                if resolved is not None:
                    current.parent = named.get(resolved.lower())
                stages.append(current)
                if alias:
                    named[alias.lower()] = current  # a later stage of the same name wins from here on
            if current is not None:
                instr.stage = current
                current.instructions.append(instr)
        return stages

    def _attach_comments(self) -> None:
        """Give each instruction the block of comment lines directly above it."""
        previous_end = 0
        for instr in self.instructions:
            block: list[str] = []
            ln = instr.start_line - 1
            while ln > previous_end:
                line = self.index.line_text(ln).strip()
                if not line.startswith("#"):
                    break
                block.append(line)
                ln -= 1
            instr.comments_above = tuple(reversed(block))
            previous_end = instr.end_line

    # -- queries -----------------------------------------------------------
    @property
    def final_stage(self) -> Stage:
        return self.stages[-1]

    @cached_property
    def comment_lines(self) -> list[str]:
        """Comment lines outside instructions that may be file-wide pragmas (each finding reads them all)."""
        inside: set[int] = set()
        for instr in self.instructions:
            inside.update(range(instr.start_line, instr.end_line + 1))
        found = (
            self.index.line_text(ln).strip()
            for ln in range(1, self.index.line_count + 1)
            if ln not in inside and self.index.line_text(ln).lstrip().startswith("#")
        )
        return list(dict.fromkeys(c for c in found if "global" in c and "ignore" in c))

    def comments_for(self, line: int) -> tuple[str, ...]:
        """The comment block directly above the instruction starting on a line."""
        instruction = self._starting_on.get(line)
        return instruction.comments_above if instruction else ()

    @cached_property
    def _starting_on(self) -> dict[int, Instruction]:
        return {i.start_line: i for i in self.instructions}

    def stage_named(self, name: str) -> Stage | None:
        return self._stages_by_name.get(name.lower())

    @cached_property
    def _stages_by_name(self) -> dict[str, Stage]:
        named: dict[str, Stage] = {}
        for stage in self.stages:
            if stage.alias:
                named.setdefault(stage.alias.lower(), stage)  # the first stage of that name
        return named


def parse_arg_values(tokens: tuple[str, ...]) -> dict[str, str | None]:
    """ARG NAME[=default] ... -> {NAME: default-or-None}."""
    out: dict[str, str | None] = {}
    for token in tokens:
        name, sep, value = token.partition("=")
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        out[name] = value if sep else None
    return out


def substitute(value: str, variables: dict[str, str | None]) -> str | None:
    """Expand $VAR, ${VAR}, ${VAR:-x} and ${VAR:+x}; None if a value is unknown."""
    unknown = False

    def expand(m: re.Match) -> str:
        nonlocal unknown
        name = m.group(1) or m.group(4)
        op, word = m.group(2), m.group(3)
        current = variables.get(name)
        if op and op.endswith("-"):
            return current if current else word
        if op and op.endswith("+"):
            return word if current else ""
        if current is None:
            unknown = True
            return ""
        return current

    result = _VARIABLE.sub(expand, value)
    return None if unknown else result
