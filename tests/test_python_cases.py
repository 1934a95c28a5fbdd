"""docker SDK calls in Python: layouts, client tracking, and the no-change cases."""

import json

import pytest

from hardener.config import Config
from hardener.engine import check_text, fix_text

# These cases are about layout: every service gets the same limits, whatever its image's class.
LIMITS = {"memory_limit": "512m", "cpu_limit": "0.5", "pids_limit": 256}

NNP = Config(**LIMITS, select=("HD301",))


def compiles(text) -> bool:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            compile(text, "start.py", "exec")
        except SyntaxError:
            return False
    return True


def fixed(text, config=NNP):
    result = fix_text(text, "start.py", config)
    assert result.verification_error is None, result.verification_error
    if compiles(text):  # syntax newer than this Python is judged by libcst alone
        assert compiles(result.fixed)
    assert fix_text(result.fixed, "start.py", config).fixed == result.fixed, "a second run changed something"
    return result.fixed


OPT = 'security_opt=["no-new-privileges:true"]'

CASES = {
    "positional image, keyword arguments": (
        'import docker\nclient = docker.from_env()\nclient.containers.run("redis:7", detach=True)\n',
        f'import docker\nclient = docker.from_env()\nclient.containers.run("redis:7", detach=True, {OPT})\n',
    ),
    "no arguments at all": (
        "import docker\ndocker.from_env().containers.create()\n",
        f"import docker\ndocker.from_env().containers.create({OPT})\n",
    ),
    "multi-line call with comments and a trailing comma": (
        'import docker\nclient = docker.from_env()\nclient.containers.run(\n    "redis:7",\n'
        "    detach=True,  # keep it running\n    # more to come\n)\n",
        'import docker\nclient = docker.from_env()\nclient.containers.run(\n    "redis:7",\n'
        f"    detach=True,  # keep it running\n    {OPT},\n    # more to come\n)\n",
    ),
    "multi-line call without a trailing comma, comment after the last argument": (
        'import docker\nc = docker.from_env()\nc.containers.run(\n    "redis:7",\n    detach=True  # bg\n)\n',
        f'import docker\nc = docker.from_env()\nc.containers.run(\n    "redis:7",\n    detach=True,  # bg\n    {OPT}\n)\n',
    ),
    "existing list gets the item appended": (
        "import docker\ndocker.from_env().containers.run('x', security_opt=['apparmor=docker-default'])\n",
        "import docker\ndocker.from_env().containers.run('x', security_opt=['apparmor=docker-default', 'no-new-privileges:true'])\n",
    ),
    "import docker as d": (
        "import docker as d\nd.from_env().containers.run('x')\n",
        "import docker as d\nd.from_env().containers.run('x', security_opt=['no-new-privileges:true'])\n",
    ),
    "from docker import DockerClient": (
        "from docker import DockerClient\nDockerClient(base_url='tcp://127.0.0.1:2375').containers.run('x')\n",
        "from docker import DockerClient\nDockerClient(base_url='tcp://127.0.0.1:2375').containers.run('x', security_opt=['no-new-privileges:true'])\n",
    ),
    "docker.client.from_env and a chain of assignments": (
        "import docker\nc1 = docker.client.from_env()\nc2 = c1\nrunner = c2.containers\nrunner.run('x')\n",
        "import docker\nc1 = docker.client.from_env()\nc2 = c1\nrunner = c2.containers\nrunner.run('x', security_opt=['no-new-privileges:true'])\n",
    ),
    "a client passed around: a factory function and an attribute": (
        "import docker\n\ndef make():\n    return docker.from_env()\n\nclass Job:\n    def __init__(self):\n"
        "        self.client = make()\n\n    def go(self):\n        self.client.containers.run('x')\n",
        "import docker\n\ndef make():\n    return docker.from_env()\n\nclass Job:\n    def __init__(self):\n"
        "        self.client = make()\n\n    def go(self):\n        self.client.containers.run('x', security_opt=['no-new-privileges:true'])\n",
    ),
}


@pytest.mark.parametrize("before,after", CASES.values(), ids=CASES.keys())
def test_python_cases(before, after):
    assert fixed(before) == after


@pytest.mark.parametrize(
    "text",
    [
        # Unknown objects are not guessed at.
        "import docker\ndef go(c):\n    c.containers.run('x')\n",
        "import docker\nsomething.containers.run('x')\n",
        # A module that does not import docker is not even parsed.
        "client.containers.run('x')\n",
        # Already hardened.
        "import docker\ndocker.from_env().containers.run('x', security_opt=['no-new-privileges:true'])\n",
    ],
)
def test_no_change(text):
    assert fixed(text) == text


def test_fully_hardened_call_has_no_finding():
    text = (
        "import docker\ndocker.from_env().containers.run(\n    'redis:7@sha256:" + "a" * 64 + "',\n"
        "    security_opt=['no-new-privileges:true'],\n    cap_drop=['ALL'],\n    cap_add=['CHOWN', 'SETGID', 'SETUID'],\n"
        "    mem_limit='256m',\n    nano_cpus=500000000,\n    pids_limit=64,\n    read_only=True,\n    tmpfs={'/tmp': ''},\n"
        "    user='redis',\n)\n"
    )
    assert check_text(text, "start.py", Config(**LIMITS, unsafe_fixes=True)) == []


def test_calls_with_star_kwargs_are_reported_not_changed():
    text = "import docker\nopts = {}\ndocker.from_env().containers.run('x', **opts)\n"
    result = fix_text(text, "start.py", NNP)
    assert result.fixed == text and "**kwargs" in result.skipped[0].reason


def test_every_rule_together_and_a_second_run():
    text = (
        "import docker\nclient = docker.from_env()\nclient.containers.run(\n    'postgres:16',\n    detach=True,\n)\n"
    )
    out = fixed(text, Config(**LIMITS, unsafe_fixes=True))
    for expected in (
        "security_opt=['no-new-privileges:true']",
        "cap_drop=['ALL']",
        "mem_limit='512m'",
        "nano_cpus=500000000",
        "pids_limit=256",
        "read_only=True",
        "user='postgres'",
    ):
        assert expected in out


def test_invalid_python_is_bad_input():
    from hardener.model import InputError

    with pytest.raises(InputError, match="start.py:2: invalid Python"):
        check_text("import docker\ndef (:\n", "start.py")


def test_a_folder_with_dockerfiles_compose_files_and_python(tmp_path, run_cli):
    (tmp_path / "Dockerfile").write_text("FROM debian:12\nRUN apt-get update\nRUN apt-get install -y curl\n")
    (tmp_path / "compose.yaml").write_text("services:\n  web:\n    image: nginx:1.27\n")
    (tmp_path / "start.py").write_text("import docker\ndocker.from_env().containers.run('nginx:1.27')\n")
    (tmp_path / "unrelated.py").write_text("print('not about containers')\n")
    result = run_cli("check", "--format", "json", ".")
    data = json.loads(result.stdout)
    assert sorted((f["path"], f["kind"]) for f in data["files"]) == [
        ("Dockerfile", "dockerfile"),
        ("compose.yaml", "compose"),
        ("start.py", "python"),
    ]
    rules = {f["rule"][:3] for f in data["findings"]}
    assert rules == {"HD1", "HD2", "HD3"}
    fix = run_cli("fix", ".")
    assert "security_opt=['no-new-privileges:true']" in (tmp_path / "start.py").read_text()
    assert fix.returncode == 1  # report-only findings remain


def test_syntax_newer_than_this_python_is_still_read():
    # A `type` alias (3.12) and a nested f-string with the same quotes (3.12): libcst reads them
    # whatever Python runs hardener (on older ones, after a parse in a separate process).
    text = "import docker\ntype Name = str\nname = f'{f'{1}'}'\ndocker.from_env().containers.run('x')\n"
    assert [(f.rule, f.line) for f in check_text(text, "start.py", NNP)] == [("HD301", 4)]


def test_long_but_ordinary_expressions_are_read():
    # 90 terms in a chain, a long flat list and a long comparison: within what hardener reads.
    text = (
        "import docker\ntotal = 1" + " + 1" * 90 + "\nnames = [" + "'a', " * 2000 + "]\nok = 1" + " < 2" * 2000 + "\n"
        "docker.from_env().containers.run('x')\n"
    )
    assert fixed(text).endswith("containers.run('x', security_opt=['no-new-privileges:true'])\n")


def test_syntax_newer_than_this_python_is_fixed_too():
    # compile() on this Python cannot judge such a module: the fix is verified by libcst alone.
    text = "import docker\ntype Name = str\ndocker.from_env().containers.run('x')\n"
    assert fixed(text).endswith("containers.run('x', security_opt=['no-new-privileges:true'])\n")


def test_compiling_the_fixed_module_prints_no_warnings(capfd):
    import warnings

    text = "import docker\npattern = '\\d+'\ndocker.from_env().containers.run('x')\n"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning compile() raised would fail the fix
        assert "security_opt" in fixed(text)
    assert capfd.readouterr().err == ""
