from __future__ import annotations

import re

from hardener.model import Edit, Severity, Tier
from hardener.rules.base import Example, Rule

# URLs, and git's scp-like `user@host:path` form, which BuildKit's ADD clones.
_REMOTE = re.compile(r"^([a-z][a-z0-9+.-]*://|[a-z0-9_.-]+@[a-z0-9.-]+:)", re.IGNORECASE)
# ADD unpacks local tar archives (compressed or not); COPY would not.
_ARCHIVE = re.compile(r"\.(tar|tgz|tbz2?|txz|tlz|tzst|gz|bz2|xz|lz|lzma|zst|z)$", re.IGNORECASE)
_ADD_ONLY_FLAGS = ("--checksum", "--keep-git-dir", "--unpack")
# Names that are not tar archives: ADD copies them as COPY would.
_SAFE_NAME = re.compile(
    r"\.(py|pyi|js|mjs|cjs|ts|tsx|jsx|json|conf|cfg|cnf|ini|toml|ya?ml|xml|html?|css|scss|sh|bash|zsh|ps1|"
    r"txt|md|rst|properties|env|sql|pem|crt|cert|key|pub|php|rb|go|rs|java|kt|scala|lua|pl|r|csv|tsv|svg|png|"
    r"jpe?g|gif|ico|webp|lock|mod|sum|jar|war|ear|zip|whl|so|dll|exe|class|pyc|map|wasm|ttf|woff2?|pdf)$",
    re.IGNORECASE,
)
# Fetching URLs and git repositories and unpacking archives is what ADD is for.
ADD_IS_RIGHT = "ADD is the right instruction"


class AddInsteadOfCopy(Rule):
    id = "HD105"
    name = "add-instead-of-copy"
    kind = "dockerfile"
    summary = "Use COPY, not ADD, for local files"
    severity = Severity.WARNING
    tier = Tier.SAFE
    rationale = (
        "ADD also fetches URLs and unpacks archives, so what lands in the image depends on the source's "
        "contents, not just its name. COPY does exactly one thing; for local, non-archive files the result "
        "is the same."
    )
    references = ("hadolint DL3020", "CIS Docker Benchmark v1.6 4.9", "Checkov CKV_DOCKER_4", "Trivy DS-0005")
    hadolint = ("DL3020",)
    valid = (
        "FROM debian:12\nADD https://example.com/app.tar.gz /opt/\n",
        "FROM debian:12\nADD rootfs.tar.xz /\n",
        "FROM debian:12\nADD --checksum=sha256:24454f830cdb571e2c4ad15481119c43b3cafd48dd869a9b2945d1036d1dc68d app.bin /app/\n",
        # Quoted, the source is still a URL to BuildKit, and COPY refuses URLs.
        'FROM debian:12\nADD "https://example.com/download" /opt/app\n',
        'FROM debian:12\nADD ["https://example.com/download", "/opt/app"]\n',
        "FROM debian:12\nADD deploy@git.example.com:team/tools.git /src/tools\n",
    )
    invalid = (
        Example(
            "FROM debian:12\nADD --chown=1000:1000 src/ /app/\n", "FROM debian:12\nCOPY --chown=1000:1000 src/ /app/\n"
        ),
        Example(
            'FROM debian:12\nadd ["config.json", "/etc/app/"]\n', 'FROM debian:12\ncopy ["config.json", "/etc/app/"]\n'
        ),
        Example('FROM debian:12\nADD "config.json" /etc/app/\n', 'FROM debian:12\nCOPY "config.json" /etc/app/\n'),
        Example('FROM debian:12\nADD "unterminated /etc/app/\n', None),
    )

    def check(self, document, context):
        for instr in document.instructions:
            if instr.keyword != "ADD" or instr.has_heredoc or len(instr.value) < 2:
                continue
            sources = instr.value[:-1]
            reason = self._why_not(instr, sources, document.escape)
            if reason is ADD_IS_RIGHT:
                continue
            replacement = "COPY" if instr.keyword_text.isupper() else "copy"
            edit = Edit(instr.start, instr.start + len(instr.keyword_text), replacement)
            yield self.finding(
                instr.start_line,
                "ADD of local files: COPY says exactly what happens",
                end_line=instr.end_line,
                edits=None if reason else [edit],
                description="replaced ADD with COPY",
                fix_unavailable=reason,
            )

    @staticmethod
    def _why_not(instr, sources, escape) -> str | None:
        if any(f.startswith(_ADD_ONLY_FLAGS) for f in instr.flags):
            return ADD_IS_RIGHT
        # BuildKit removes quotes and escapes before it looks at a source: judge what it sees.
        unquoted = [unquote(s, escape) for s in sources]
        if any(s is not None and _REMOTE.match(s) for s in unquoted):
            return ADD_IS_RIGHT
        if any(s is not None and _ARCHIVE.search(s) for s in unquoted):
            return ADD_IS_RIGHT
        if any(s is None for s in unquoted):
            return "a source has quotes or escapes that hardener cannot read with certainty"
        sources = unquoted
        if any("$" in s for s in sources):
            return "a source is a variable, which could name an archive ADD would unpack"
        if any(any(c in s for c in "*?[") and not _SAFE_NAME.search(s) for s in sources):
            return "a wildcard source could match an archive ADD would unpack"
        unsure = [
            s for s in sources if not _SAFE_NAME.search(s) and "." in s.rstrip("/").rsplit("/", 1)[-1].lstrip(".")
        ]
        if unsure:
            # ADD unpacks any local tar archive, whatever its name (.gem, .crate, .apk files are tars).
            return f"`{unsure[0]}` could be an archive ADD would unpack"
        return None


def unquote(word: str, escape: str) -> str | None:
    """A word as BuildKit's shell lexer reads it (quotes removed, escapes resolved), or None when unsure."""
    if not any(c in word for c in ("'", '"', escape)):
        return word
    out: list[str] = []
    i, n = 0, len(word)
    while i < n:
        ch = word[i]
        if ch == "'":
            end = word.find("'", i + 1)
            if end == -1:
                return None
            out.append(word[i + 1 : end])
            i = end + 1
        elif ch == '"':
            i += 1
            while i < n and word[i] != '"':
                if word[i] == escape and i + 1 < n and word[i + 1] in ('"', "$", escape):
                    i += 1
                out.append(word[i])
                i += 1
            if i >= n:
                return None
            i += 1
        elif ch == escape:
            if i + 1 >= n:
                return None
            out.append(word[i + 1])
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)
