"""Image knowledge is data with a source on each entry, read by one container policy for every kind.

The compose rules and their docker SDK twins render the same decision (capabilities, tmpfs, user) in
their own syntax; a settings file's own `image-knowledge` file adds entries that win over hardener's.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hardener import fix_text
from hardener.config import Config, load_config_file
from hardener.images import ImageRef, parse_image_knowledge, profile_for, shipped_knowledge
from hardener.model import InputError
from hardener.policy import capabilities_to_add, non_root_user, writable_paths

README = (Path(__file__).parent.parent / "README.md").read_text()
UNSAFE = Config(unsafe_fixes=True)


def test_every_shipped_entry_names_its_source():
    entries = shipped_knowledge()
    assert len(entries) > 20
    for entry in entries:
        assert entry.source.strip(), entry
        assert entry.images


def test_docker_hub_written_out_is_the_same_image():
    for text in ("docker.io/python:3.12", "index.docker.io/library/python:3.12", "python:3.12"):
        ref = ImageRef.parse(text)
        assert (ref.registry, ref.repository, ref.is_official) == ("docker.io", "library/python", True)
    assert ImageRef.parse("docker.io/bitnami/redis:7").repository == "bitnami/redis"
    fixed = fix_text(
        'FROM docker.io/python:3.12\nCOPY app.py /app/\nCMD ["python", "/app/app.py"]\n', "Dockerfile", UNSAFE
    )
    assert "useradd" in fixed.fixed and "USER 10001:10001" in fixed.fixed
    assert (
        "useradd" in fix_text('FROM docker.io/library/python:3.12\nCOPY a /a\nCMD ["/a"]\n', "Dockerfile", UNSAFE).fixed
    )


def _compose_decision(image: str) -> tuple:
    result = fix_text(
        f"services:\n  svc:\n    image: {image}\n",
        "compose.yaml",
        Config(unsafe_fixes=True, select=("HD202", "HD204", "HD205"), compose_check=False),
    )
    text = result.fixed

    def block(key):
        match = re.search(rf"^    {key}:\n((?:      - .*\n)*)", text, re.M)
        return tuple(re.findall(r"- (.*)", match.group(1))) if match else ()

    user = re.search(r"^    user: (.*)$", text, re.M)
    return block("cap_add"), block("tmpfs"), user.group(1) if user else None


def _sdk_decision(image: str) -> tuple:
    source = f'import docker\ndocker.from_env().containers.run("{image}")\n'
    result = fix_text(source, "app.py", Config(unsafe_fixes=True, select=("HD302", "HD304", "HD305")))
    text = result.fixed
    cap_add = re.search(r"cap_add=\[([^\]]*)\]", text)
    tmpfs = re.search(r"tmpfs=\{([^}]*)\}", text)
    user = re.search(r'user="([^"]*)"', text)
    return (
        tuple(re.findall(r'"([^"]*)"', cap_add.group(1))) if cap_add else (),
        tuple(re.findall(r'"([^"]*)": ""', tmpfs.group(1))) if tmpfs else (),
        user.group(1) if user else None,
    )


@pytest.mark.parametrize(
    "image",
    [
        "postgres:16",
        "mysql:8",
        "mariadb:11",
        "redis:7",
        "mongo:7",
        "nginx:1.27",
        "httpd:2.4",
        "nginxinc/nginx-unprivileged:1.27",
        "memcached:1.6",
    ],
)
def test_compose_and_the_docker_sdk_render_one_decision(image):
    expected = (
        capabilities_to_add(image, Config()) or (),
        writable_paths(image, Config(), []) or (),
        non_root_user(image, Config()),
    )
    assert _compose_decision(image) == expected
    assert _sdk_decision(image) == expected


def test_no_tmpfs_over_a_data_folder_in_either_syntax(tmp_path):
    knowledge = tmp_path / "images.toml"
    knowledge.write_text(
        '[[image]]\nimages = ["ghcr.io/acme/store"]\ncap-add = []\nwritable = ["/srv/data/cache", "/tmp"]\n'
        'data = ["/srv/data"]\nsource = "our store writes its cache below its data"\n'
    )
    config = Config(unsafe_fixes=True, image_entries=parse_image_knowledge(knowledge.read_text(), str(knowledge)))
    compose = fix_text(
        "services:\n  s:\n    image: ghcr.io/acme/store:1\n",
        "compose.yaml",
        Config(**{**config.__dict__, "select": ("HD204",), "compose_check": False}),
    )
    sdk = fix_text(
        'import docker\ndocker.from_env().containers.run("ghcr.io/acme/store:1")\n',
        "app.py",
        Config(**{**config.__dict__, "select": ("HD304",)}),
    )
    assert "      - /tmp\n" in compose.fixed and "/srv/data/cache" not in compose.fixed
    assert 'tmpfs={"/tmp": ""}' in sdk.fixed and "/srv/data/cache" not in sdk.fixed


def test_the_readme_image_table_matches_the_knowledge():
    table = README.split("| image | `cap_add` after `cap_drop: [ALL]` |", 1)[1].split("\n\n", 1)[0]
    rows = [line.split("|")[1:-1] for line in table.strip().splitlines()[2:]]
    assert rows
    for image, caps, tmpfs, user in ((c.strip() for c in row) for row in rows):
        assert caps == (", ".join(capabilities_to_add(image, Config())) or "(none)"), image
        assert tmpfs == (", ".join(writable_paths(image, Config(), [])) or "(none)"), image
        assert user == (non_root_user(image, Config()) or ""), image


def _repository(tmp_path, settings: str, knowledge: str | None):
    (tmp_path / ".git").mkdir()
    (tmp_path / ".hardener.toml").write_text(settings)
    if knowledge is not None:
        (tmp_path / "images.toml").write_text(knowledge)
    return tmp_path


ACME = """\
# Our own images.
[[image]]
images = ["ghcr.io/acme/*"]
shipped-user = { name = "acme", uid = 4000, gid = 4000 }
cap-add = ["NET_BIND_SERVICE"]
writable = ["/var/cache/acme"]
user = "acme"
source = "ghcr.io/acme/base's Dockerfile creates acme (4000); the api binds port 80"
"""


def test_a_repositorys_own_knowledge_reaches_every_kind(tmp_path, run_cli):
    repo = _repository(tmp_path, 'unsafe-fixes = true\nimage-knowledge = "images.toml"\ncompose-check = false\n', ACME)
    (repo / "Dockerfile").write_text('FROM ghcr.io/acme/base:2\nCOPY app /app\nCMD ["/app"]\n')
    (repo / "compose.yaml").write_text("services:\n  api:\n    image: ghcr.io/acme/api:3\n")
    (repo / "start.py").write_text('import docker\ndocker.from_env().containers.run("ghcr.io/acme/api:3")\n')
    result = run_cli("fix", "--select", "HD101,HD202,HD204,HD205,HD302,HD304,HD305", ".", cwd=repo)
    assert result.returncode in (0, 1), result.stderr
    assert "USER acme\n" in (repo / "Dockerfile").read_text()
    compose = (repo / "compose.yaml").read_text()
    assert "      - NET_BIND_SERVICE\n" in compose and "      - /var/cache/acme\n" in compose
    assert "    user: acme\n" in compose
    python = (repo / "start.py").read_text()
    assert 'cap_add=["NET_BIND_SERVICE"]' in python and '"/var/cache/acme": ""' in python and 'user="acme"' in python


def test_a_repositorys_entries_win_over_hardeners(tmp_path):
    repo = _repository(
        tmp_path,
        'image-knowledge = "images.toml"\n',
        '[[image]]\nimages = ["redis"]\ncap-add = ["SETGID", "SETUID"]\nsource = "our redis data is already owned"\n',
    )
    config = load_config_file(repo / ".hardener.toml")
    assert capabilities_to_add("redis:7", config) == ("SETGID", "SETUID")
    assert non_root_user("redis:7", config) == "redis"  # facts it does not state still come from hardener's own
    assert profile_for(ImageRef.parse("redis:7"), config.image_entries).starts_as_root


@pytest.mark.parametrize(
    "knowledge,message,line",
    [
        (
            '[[image]]\nimages = ["x"]\nsource = "s"\n\n[[image]]\nimages = ["y"]\ncap-add = ["NET ADMIN"]\nsource = "s"\n',
            "'cap-add' must list capabilities",
            5,
        ),
        ('[[image]]\nimages = ["x"]\nuser = "root\\nprivileged: true"\nsource = "s"\n', "'user' must be one line", 1),
        ('[[image]]\nimages = ["x"]\ncap-add = []\n', "'source' must say where the facts come from", 1),
        ('[[image]]\nimages = ["x"]\nsource = "s"\nrun-as = "x"\n', "unknown key 'run-as'", 1),
        ('[[image]]\nimages = ["x"]\nsource = "s"\nuser-tools = "apt"\n', "'user-tools' must be one of", 1),
        ('[[image]]\nimages = ["x"]\nsource = "s"\nwritable = ["tmp"]\n', "'writable' must list absolute paths", 1),
        ("[[image]\n", "invalid TOML", 1),
    ],
)
def test_a_wrong_entry_is_one_error_naming_its_line_and_nothing_is_touched(tmp_path, run_cli, knowledge, message, line):
    repo = _repository(tmp_path, 'unsafe-fixes = true\nimage-knowledge = "images.toml"\n', knowledge)
    dockerfile = repo / "Dockerfile"
    dockerfile.write_text("FROM python:3.12\nCOPY a /a\n")
    result = run_cli("fix", ".", cwd=repo)
    assert result.returncode == 2
    errors = [ln for ln in result.stdout.splitlines() + result.stderr.splitlines() if "images.toml" in ln]
    assert len(errors) == 1 and message in errors[0] and f"images.toml:{line}:" in errors[0], result.stdout
    assert dockerfile.read_text() == "FROM python:3.12\nCOPY a /a\n"


def test_knowledge_outside_the_repository_is_refused(tmp_path):
    outside = tmp_path / "elsewhere.toml"
    outside.write_text(ACME)
    repo = tmp_path / "repo"
    repo.mkdir()
    _repository(repo, 'image-knowledge = "../elsewhere.toml"\n', None)
    with pytest.raises(InputError, match="'image-knowledge' is outside the repository") as error:
        load_config_file(repo / ".hardener.toml")
    assert error.value.line == 1


def test_knowledge_that_is_not_a_regular_file_is_refused(tmp_path):
    repo = _repository(tmp_path, 'image-knowledge = "images.toml"\n', None)
    (repo / "images.toml").mkdir()
    with pytest.raises(InputError, match="'image-knowledge' cannot be read: is a folder"):
        load_config_file(repo / ".hardener.toml")
