from __future__ import annotations

from hardener.dockerfile.packages import package_commands
from hardener.dockerfile.users import scripts_of
from hardener.model import Severity
from hardener.rules.base import Example, Rule

BUILD_TOOLS = frozenset(
    {
        "build-essential",
        "build-base",
        "gcc",
        "g++",
        "clang",
        "make",
        "cmake",
        "autoconf",
        "automake",
        "libtool",
        "gcc-c++",
        "rust",
        "cargo",
        "golang",
        "go",
        "musl-dev",
        "libc6-dev",
        "libc-dev",
    }
)


class BuildToolsInFinalStage(Rule):
    id = "HD110"
    name = "build-tools-in-final-stage"
    kind = "dockerfile"
    summary = "Compilers and build tools belong in a build stage, not the final image"
    severity = Severity.WARNING
    rationale = (
        "Compilers and build tools in the shipped image add size and give an attacker tools to build "
        "exploits in place. Build in a separate stage and COPY --from it only what runs."
    )
    references = ("CIS Docker Benchmark v1.6 4.3",)
    valid = (
        "FROM debian:12 AS build\nRUN apt-get update && apt-get install -y gcc\nFROM debian:12-slim\n",
        "FROM alpine:3.20\nRUN apk add --no-cache --virtual .build gcc && make && apk del .build\n",
    )
    invalid = (
        Example(
            "FROM python:3.12-slim\nRUN apt-get update && apt-get install -y build-essential "
            "&& rm -rf /var/lib/apt/lists/*\n"
        ),
    )

    def check(self, document, context):
        stage = document.final_stage
        for instr in stage.instructions:
            for script in scripts_of(instr):
                commands = package_commands(script)
                removes = any(c.action in ("del", "remove", "purge", "autoremove", "erase") for c in commands)
                if removes:
                    continue
                tools = sorted({w.text for c in commands if c.installs for w in c.operands} & BUILD_TOOLS)
                if tools:
                    yield self.finding(
                        instr.start_line,
                        f"the final stage installs build tools ({', '.join(tools)}); build in an earlier "
                        "stage and copy only the result",
                    )
