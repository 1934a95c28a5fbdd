"""Clients the docker SDK rules follow: annotated class attributes, as well as assigned ones."""

from hardener.config import Config
from hardener.engine import check_text

NNP = Config(select=("HD301",))


def lines(text: str) -> list[int]:
    return [f.line for f in check_text(text, "agent.py", NNP)]


def test_a_client_declared_in_the_class_body_is_followed():
    text = (
        "import docker\nfrom docker import DockerClient\n\n\nclass Sandbox:\n    client: DockerClient\n\n"
        "    def run(self, code):\n        return self.client.containers.run('python:3.12', ['python', '-c', code])\n"
    )
    assert lines(text) == [9]


def test_an_annotated_attribute_without_a_value_is_followed():
    text = (
        "import docker\n\n\nclass Runner:\n    def __init__(self, make):\n        self.docker: docker.DockerClient = make()\n\n"
        "    def go(self):\n        self.docker.containers.run('alpine:3.20')\n"
    )
    assert lines(text) == [9]


def test_another_librarys_docker_client_is_not_followed():
    text = (
        "import docker\nfrom mylib import DockerClient\n\n\nclass Fake:\n    client: DockerClient\n\n"
        "    def go(self):\n        self.client.containers.run('alpine:3.20')\n"
    )
    assert lines(text) == []


# -- the low-level API: create_container(host_config=create_host_config(...)) ---------------------
def test_low_level_calls_are_followed_through_their_host_config():
    text = (
        "import docker\nfrom docker import APIClient\n\napi = APIClient()\n"
        "safe = api.create_host_config(security_opt=['no-new-privileges:true'])\n"
        "api.create_container('a', host_config=safe)\n"  # line 6: set in the named host config
        "api.create_container('b', host_config=api.create_host_config(network_mode='none'))\n"  # 7
        "api.create_container('c')\n"  # 8: no host config at all: Docker's defaults
        "docker.from_env().api.create_container('d')\n"  # 9: a high-level client's low-level API
    )
    assert lines(text) == [7, 8, 9]


def test_a_host_config_from_elsewhere_is_not_guessed_at():
    text = (
        "import docker\n\n\ndef start(api: docker.APIClient, config, **options):\n"
        "    api.create_container('a', host_config=config)\n"  # made by the caller: unknown
        "    api.create_container('b', **options)\n"  # may carry one
        "    config = api.create_host_config()\n    config = dict(config)\n"
        "    api.create_container('c', host_config=config)\n"  # rebound to something else
    )
    assert lines(text) == []


def test_a_low_level_fix_writes_host_settings_in_the_host_config_and_the_user_on_the_container():
    from hardener.engine import fix_text

    text = "import docker\napi = docker.APIClient()\napi.create_container('redis:7', host_config=api.create_host_config())\n"
    fixed = fix_text(text, "app.py", Config(select=("HD302", "HD305"), unsafe_fixes=True)).fixed
    assert fixed == (
        "import docker\napi = docker.APIClient()\napi.create_container('redis:7', host_config=api.create_host_config("
        "cap_drop=['ALL'], cap_add=['CHOWN', 'SETGID', 'SETUID']), user='redis')\n"
    )
