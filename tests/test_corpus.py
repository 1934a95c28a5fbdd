"""The fixer over every real Dockerfile in ../shared/corpus, with behaviour-changing fixes on.

The checks here are independent of the engine's own verification: they
re-parse with BuildKit and compare instructions, comments and users directly.
"""

import difflib
import io
import re
from collections import Counter

import dockerfile
import pytest

from hardener.config import Config
from hardener.engine import fix_text
from hardener.kinds import kind_of_name

from .conftest import CORPUS

UNSAFE = Config(unsafe_fixes=True)


def corpus_dockerfiles():
    if not CORPUS.is_dir():
        return []
    return sorted(p for p in CORPUS.rglob("*") if p.is_file() and kind_of_name(p.name) == "dockerfile")


FILES = corpus_dockerfiles()
pytestmark = pytest.mark.skipif(not FILES, reason=f"corpus folder {CORPUS} is absent: corpus tests skipped")


def ids(path):
    return str(path.relative_to(CORPUS))


@pytest.fixture(scope="module")
def results():
    out = {}
    for path in FILES:
        text = path.read_bytes().decode("utf-8-sig")
        out[path] = (text, fix_text(text, str(path), UNSAFE))
    return out


def instructions(text):
    """(keyword, raw text of its lines) for every instruction, as BuildKit sees them."""
    lines = text.splitlines(keepends=True)
    return [(c.cmd.upper(), "".join(lines[c.start_line - 1 : c.end_line])) for c in dockerfile.parse_string(text)]


def outside_lines(text):
    """Comment lines that belong to no instruction, in order."""
    lines = text.splitlines()
    inside = {n for c in dockerfile.parse_string(text) for n in range(c.start_line, c.end_line + 1)}
    return [line for n, line in enumerate(lines, 1) if n not in inside and line.strip()]


@pytest.mark.parametrize("path", FILES, ids=ids)
def test_output_parses_and_is_stable(results, path):
    original, result = results[path]
    assert result.verification_error is None
    dockerfile.parse_string(result.fixed)
    assert fix_text(result.fixed, str(path), UNSAFE).fixed == result.fixed


@pytest.mark.parametrize("path", FILES, ids=ids)
def test_only_fixed_instructions_change(results, path):
    original, result = results[path]
    if not result.changed:
        return
    assert outside_lines(result.fixed) == outside_lines(original), "a comment or directive changed"
    before, after = instructions(original), instructions(result.fixed)
    matcher = difflib.SequenceMatcher(None, before, after, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        assert {k for k, _ in before[i1:i2]} <= {"RUN", "ADD", "USER"}, f"changed {before[i1:i2]}"
        assert {k for k, _ in after[j1:j2]} <= {"RUN", "COPY", "USER"}, f"wrote {after[j1:j2]}"


@pytest.mark.parametrize("path", FILES, ids=ids)
def test_heredoc_bodies_are_byte_identical(results, path):
    original, result = results[path]
    bodies = lambda text: [h for c in dockerfile.parse_string(text) for h in c.heredocs]  # noqa: E731
    assert bodies(result.fixed) == bodies(original)


# Non-root users that base images ship, by image name prefix (an independent list).
SHIPPED_USERS = {"node": "node", "gcr.io/distroless/": "nonroot", "mcr.microsoft.com/dotnet/": "app"}


@pytest.mark.parametrize("path", FILES, ids=ids)
def test_added_users_exist(results, path):
    original, result = results[path]
    users = lambda text: Counter(v.strip() for k, v in instructions(text) if k == "USER")  # noqa: E731
    added = list((users(result.fixed) - users(original)).elements())
    if not added:
        return
    assert len(added) == 1
    user = added[0].split(None, 1)[1].strip()
    text = "\n" + result.fixed
    final_stage = text[text.lower().rfind("\nfrom ") :]
    numeric = re.fullmatch(r"(\d+):(\d+)", user)
    if numeric:
        uid = numeric.group(1)
        created = re.search(rf"(useradd|adduser)[^\n]*(-u|--uid) {uid}\b", final_stage)
        assert created or re.match(r"\nfrom (--\S+ )*scratch\b", final_stage, re.I), f"uid {uid} never created"
        return
    name = user.split(":")[0]
    created_anywhere = re.search(rf"(useradd|adduser)\b[^\n]*\b{re.escape(name)}\b", result.fixed)
    used_before = re.search(rf"^USER {re.escape(name)}\b", original, re.M | re.I)
    base = next(w for w in final_stage.split()[1:] if not w.startswith("--"))
    shipped = any(base.startswith(prefix) and shipped_name == name for prefix, shipped_name in SHIPPED_USERS.items())
    assert created_anywhere or used_before or shipped, f"USER {name} does not exist"


def test_no_user_in_scratch_except_numeric(results):
    for path, (_original, result) in results.items():
        for stage in re.split(r"(?im)^from\s", result.fixed)[1:]:
            if re.match(r"(--\S+\s+)*scratch\b", stage, re.I):
                for user in re.findall(r"(?im)^user\s+(\S+)", stage):
                    assert re.fullmatch(r"\d+(:\d+)?", user), f"{path}: USER {user} in a scratch stage"


def test_base_images_agree_with_dockerfile_parse():
    """dockerfile-parse is a good oracle for stages and ARG-substituted base images."""
    from dockerfile_parse import DockerfileParser

    from hardener.dockerfile.document import DockerfileDocument

    for path in FILES:
        text = path.read_bytes().decode("utf-8-sig")
        theirs = DockerfileParser(fileobj=io.BytesIO(text.encode())).parent_images
        ours = [s.base_resolved or s.base for s in DockerfileDocument(text, str(path)).stages]
        assert ours == theirs, path
