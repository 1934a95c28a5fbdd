from __future__ import annotations

import re

from hardener.model import Severity
from hardener.rules.base import Example, Rule

_FETCHERS = {"curl", "wget", "fetch"}
_SHELLS = {"sh", "bash", "ash", "dash", "zsh", "ksh", "python", "python3", "perl", "ruby", "node"}
# `bash <(curl ...)`, `sh -c "$(curl ...)"`, `. <(wget -O- ...)`.
_SUBSTITUTED = re.compile(
    r"(?:^|[\s;&|(])(?:(?:ba|z|da|k)?sh|source|\.)\s+(?:-\S+\s+)*(?:<\(|-c\s+[\"']?\$\()\s*(?:curl|wget)\b"
)


def _program(command) -> str | None:
    program = command.program
    return program.rsplit("/", 1)[-1] if program else None


class PipeToShell(Rule):
    id = "HD113"
    name = "pipe-to-shell"
    kind = "dockerfile"
    summary = "Do not run a script downloaded in the same command (curl | sh)"
    severity = Severity.WARNING
    rationale = (
        "`curl ... | sh` runs whatever the server sends at build time, unverified: a compromised or "
        "hijacked download host, or a truncated transfer, becomes code running as root in the image. "
        "Download the script to a file, check it against a published checksum (`sha256sum -c`) or "
        "signature, then run it; or use `ADD --checksum=sha256:...` for the file. hardener reports this "
        "only: the checksum to trust has to come from the script's publisher."
    )
    references = ("CIS Docker Benchmark v1.6 4.11",)
    valid = (
        "FROM debian:12\nRUN curl -fsSLo /tmp/install.sh https://example.com/install.sh "
        "&& echo 'aa00  /tmp/install.sh' | sha256sum -c && sh /tmp/install.sh\n",
        "FROM debian:12\nRUN curl -fsSL https://example.com/key.asc | gpg --dearmor -o /usr/share/keyrings/x.gpg\n",
        "FROM debian:12\nRUN echo done | tee /tmp/log\n",
    )
    invalid = (
        Example("FROM debian:12\nRUN curl -fsSL https://get.example.com | sh\n"),
        Example("FROM debian:12\nRUN wget -qO- https://example.com/setup.sh | sudo -E bash -\n"),
        Example('FROM debian:12\nRUN sh -c "$(curl -fsSL https://example.com/install.sh)"\n'),
        Example("FROM debian:12\nRUN bash <(curl -s https://example.com/install.sh)\n"),
        Example("FROM python:3.12\nRUN curl -sSL https://install.python-poetry.org | python3 -\n"),
        Example("FROM debian:12\nRUN <<EOF\nset -e\ncurl -fsSL https://example.com/i.sh | bash\nEOF\n"),
    )

    def check(self, document, context):
        for instr in document.instructions:
            if instr.keyword != "RUN":
                continue
            found = None
            for script in _scripts(instr):
                commands = script.commands
                for i, command in enumerate(commands[:-1]):
                    if command.operator_after != "|" or _program(command) not in _FETCHERS:
                        continue
                    runner = _program(commands[i + 1])
                    if runner in _SHELLS:
                        found = f"`{_program(command)} ... | {runner}`"
                        break
                if found:
                    break
            if not found:
                text = instr.args + "".join(h.content for h in instr.heredocs)
                if _SUBSTITUTED.search(text):
                    found = "a shell reading a download (`$(curl ...)`, `<(curl ...)`)"
            if found:
                yield self.finding(
                    instr.start_line,
                    f"RUN runs a downloaded script unverified: {found}",
                    end_line=instr.end_line,
                )


def _scripts(instr):
    from hardener.dockerfile.users import scripts_of

    return scripts_of(instr)
