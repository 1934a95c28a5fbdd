"""A real Docker daemon for the tests that start containers, and the images they start.

Docker Hub is out of reach, so the base image is made here: debootstrap installs a minimal Debian
from the machine's own apt mirror, and `docker import` turns it into `hardener-test/debian:bookworm`
(once per daemon: an image already there is used). Service images are built on it with the classic
builder, which uses local images, and their RUN steps reach the machine's package mirrors.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from hardener.prove.docker import daemon_problem

BASE_IMAGE = "hardener-test/debian:bookworm"


def require_daemon() -> None:
    """Skip the test without a daemon; with HARDENER_REQUIRE_DOCKER=1 (as in CI), fail instead."""
    problem = daemon_problem()
    if problem is None:
        return
    if os.environ.get("HARDENER_REQUIRE_DOCKER") == "1":
        pytest.fail(f"a Docker daemon is required (HARDENER_REQUIRE_DOCKER=1): {problem}", pytrace=False)
    pytest.skip(f"{problem}: start dockerd to run the tests that prove fixes on containers")


@contextlib.contextmanager
def exclusive_daemon():
    """One test module at a time on the daemon, whichever pytest-xdist worker runs it: the tests check that
    nothing of theirs is left behind, and build the same images. (xdist_group puts them on one worker;
    this holds where a scheduler does not.)"""
    with open(os.path.join(tempfile.gettempdir(), "hardener-tests-docker.lock"), "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def debian_mirror() -> str:
    """The Debian mirror of the machine's apt sources."""
    for source in [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]:
        try:
            text = source.read_text()
        except OSError:
            continue
        for match in re.finditer(r"(?:URIs:\s*|^deb\s+(?:\[[^\]]*\]\s+)?)(\S+)", text, re.M):
            if "security" not in match.group(1):
                return match.group(1)
    return "http://deb.debian.org/debian"


def ensure_base_image(folder: Path) -> str:
    if subprocess.run(["docker", "image", "inspect", BASE_IMAGE], capture_output=True).returncode == 0:
        return BASE_IMAGE
    if shutil.which("debootstrap") is None:
        pytest.fail("debootstrap is needed to make the tests' base image (apt-get install debootstrap)")
    root = folder / "rootfs"
    subprocess.run(
        ["debootstrap", "--variant=minbase", "bookworm", str(root), debian_mirror()],
        check=True,
        capture_output=True,
    )
    tar = subprocess.Popen(["tar", "-C", str(root), "-c", "."], stdout=subprocess.PIPE)
    subprocess.run(["docker", "import", "-", BASE_IMAGE], stdin=tar.stdout, check=True, capture_output=True)
    tar.wait()
    shutil.rmtree(root, ignore_errors=True)
    return BASE_IMAGE


def ensure_debian_tag(folder: Path) -> str:
    """The base image also as `debian:bookworm`, a base hardener knows (its users, how to add one)."""
    ensure_base_image(folder)
    subprocess.run(["docker", "tag", BASE_IMAGE, "debian:bookworm"], check=True, capture_output=True)
    return "debian:bookworm"


STAND_INS = Path(__file__).parent / "images"


def ensure_stand_ins(folder: Path) -> None:
    """postgres:16, redis:7 and nginx:1.27 as stand-ins built from Debian's packages, each with the
    official image's entrypoint logic (tests/images): root at start, then a step down to its own user."""
    ensure_base_image(folder)
    build_folder("hardener-test/services:bookworm", STAND_INS / "services")
    for tag, name in (("postgres:16", "postgres"), ("redis:7", "redis"), ("nginx:1.27", "nginx")):
        build_folder(tag, STAND_INS / name)


def ensure_python_stand_in(folder: Path) -> str:
    """python:3.12-slim as a stand-in from Debian's Python (tests/images/python), trusting this machine's
    certificate authorities so that pip in a build reaches PyPI as pip here does."""
    ensure_base_image(folder)
    context = folder / "python-stand-in"
    shutil.copytree(STAND_INS / "python", context, dirs_exist_ok=True)
    bundle = next(
        (p for p in ("/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt") if os.path.exists(p)),
        None,
    )
    (context / "machine-ca-certificates.crt").write_bytes(Path(bundle).read_bytes() if bundle else b"")
    return build_folder("python:3.12-slim", context)


def build_folder(tag: str, folder: Path) -> str:
    env = {**os.environ, "DOCKER_BUILDKIT": "0"}
    done = subprocess.run(["docker", "build", "-q", "-t", tag, str(folder)], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    return tag


def build_image(tag: str, dockerfile: str, folder: Path) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "Dockerfile").write_text(dockerfile)
    env = {**os.environ, "DOCKER_BUILDKIT": "0"}
    done = subprocess.run(["docker", "build", "-q", "-t", tag, str(folder)], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    return tag
