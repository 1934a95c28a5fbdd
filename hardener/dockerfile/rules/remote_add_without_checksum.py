from __future__ import annotations

from hardener.model import Severity
from hardener.rules.base import Example, Rule

_REMOTE = ("http://", "https://")


class RemoteAddWithoutChecksum(Rule):
    id = "HD114"
    name = "remote-add-without-checksum"
    kind = "dockerfile"
    summary = "Pin what ADD downloads with --checksum"
    severity = Severity.WARNING
    rationale = (
        "`ADD https://...` puts whatever the server returns into the image, and the build cache keeps an "
        "old copy or takes a changed one without telling. `--checksum=sha256:<digest>` (Dockerfile "
        "syntax 1.6 and later, BuildKit) makes the build fail when the file is not the one reviewed. "
        "hardener reports this only: the digest must come from the file's publisher, not from whatever "
        "the server sends today. Git sources (`ADD https://github.com/x/y.git#v1`) are pinned by a "
        "commit instead (`--checksum` takes the commit's hash since syntax 1.14)."
    )
    references = ("hadolint DL3020", "CIS Docker Benchmark v1.6 4.9", "Checkov CKV_DOCKER_4")
    valid = (
        "FROM debian:12\nADD --checksum=sha256:24454f830cdb571e2c4ad15481119c43b3cafd48dd869a9b2945d1036d1dc68d "
        "https://example.com/tool.tar.gz /tmp/\n",
        "FROM debian:12\nADD vendor.tar.gz /opt/\n",
        "FROM debian:12\nCOPY tool.tar.gz /tmp/\n",
    )
    invalid = (
        Example("FROM debian:12\nADD https://example.com/tool.tar.gz /tmp/\n"),
        Example("FROM debian:12\nADD --chmod=755 http://example.com/run.sh /usr/local/bin/run\n"),
        Example('FROM debian:12\nADD ["https://example.com/a.bin", "/opt/a.bin"]\n'),
        Example("FROM debian:12\nADD https://github.com/acme/tool.git#v1.2 /src\n"),
    )

    def check(self, document, context):
        for instr in document.instructions:
            if instr.keyword != "ADD" or instr.flag("checksum") or len(instr.value) < 2:
                continue
            remote = [src for src in instr.value[:-1] if src.lower().startswith(_REMOTE) or src.startswith("git@")]
            if remote:
                yield self.finding(
                    instr.start_line,
                    f"ADD downloads {len(remote)} remote source{'s' * (len(remote) != 1)} without --checksum",
                    end_line=instr.end_line,
                )
