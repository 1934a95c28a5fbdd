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
