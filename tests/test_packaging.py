"""The built wheel: what users of the package get (typing marker, data, licence, project links, classifiers)."""

import email
import re
import shutil
import subprocess
import sys
import zipfile
from importlib.metadata import version

import pytest

from .conftest import ROOT

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

PROJECT_URL = "https://github.com/hardener/hardener"


def _setuptools_builds_this_project() -> bool:
    try:
        major = int(version("setuptools").split(".")[0])
    except Exception:
        return False
    return major >= 77  # the first to read `license` as an SPDX expression (the test extra requires it)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """A wheel built from a copy of the sources, so the checkout gains no build/ or egg-info."""
    if not _setuptools_builds_this_project():
        pytest.skip("setuptools>=77 is not installed (pip install -e '.[test]' installs it)")
    work = tmp_path_factory.mktemp("wheel")
    source = work / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, source / name)
    shutil.copytree(ROOT / "hardener", source / "hardener", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "--no-index"]
        + ["-w", str(work / "dist"), str(source)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    (built,) = (work / "dist").glob("hardener-*.whl")
    with zipfile.ZipFile(built) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    return source, files


def _metadata(files):
    (name,) = [n for n in files if re.fullmatch(r"hardener-[^/]+\.dist-info/METADATA", n)]
    return email.message_from_bytes(files[name])


def test_the_wheel_ships_the_typing_marker_the_data_and_every_module(wheel):
    source, files = wheel
    assert "hardener/py.typed" in files  # PEP 561: type checkers read the package's annotations
    data = sorted(p.relative_to(source).as_posix() for p in (source / "hardener" / "data").glob("*.toml"))
    assert "hardener/data/images.toml" in data
    for name in data:
        assert files.get(name) == (source / name).read_bytes(), f"{name} is missing from the wheel"
    modules = {p.relative_to(source).as_posix() for p in (source / "hardener").rglob("*.py")}
    assert modules - set(files) == set(), "modules left out of the wheel (a package without __init__.py?)"


def test_the_wheel_carries_the_licence_and_declares_it_as_spdx(wheel):
    _, files = wheel
    licence = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert licence.startswith("MIT License") and "Copyright (c)" in licence and "The hardener authors" in licence
    (shipped,) = [n for n in files if re.fullmatch(r"hardener-[^/]+\.dist-info/licenses/LICENSE", n)]
    assert files[shipped].decode() == licence
    metadata = _metadata(files)
    assert metadata["License-Expression"] == "MIT"
    assert metadata.get_all("License-File") == ["LICENSE"]
    # With an SPDX `license`, a licence classifier is an error for setuptools (and redundant for PyPI).
    assert not [c for c in metadata.get_all("Classifier") if c.startswith("License ::")]


def test_the_wheel_links_the_project_and_classifies_it(wheel):
    _, files = wheel
    metadata = _metadata(files)
    urls = dict(entry.split(", ", 1) for entry in metadata.get_all("Project-URL"))
    assert urls["Homepage"] == urls["Repository"] == PROJECT_URL
    assert urls["Documentation"].startswith(PROJECT_URL)
    assert urls["Issues"] == f"{PROJECT_URL}/issues"
    assert urls["Rules"] == f"{PROJECT_URL}/tree/main/docs/rules"
    assert (ROOT / "docs" / "rules" / "README.md").is_file()

    classifiers = set(metadata.get_all("Classifier"))
    assert {
        "Environment :: Console",
        "Intended Audience :: Developers",
        "Intended Audience :: System Administrators",
        "Operating System :: OS Independent",
        "Typing :: Typed",
        "Topic :: Security",
    } <= classifiers
    assert any(c.startswith("Development Status :: ") for c in classifiers)
    # One classifier per supported minor version, from requires-python's floor up.
    floor = int(re.fullmatch(r">=3\.(\d+)", metadata["Requires-Python"]).group(1))
    versions = sorted(
        int(m.group(1)) for c in classifiers if (m := re.fullmatch(r"Programming Language :: Python :: 3\.(\d+)", c))
    )
    assert versions == list(range(floor, versions[-1] + 1)) and versions[-1] >= 13


def test_package_data_is_declared_for_what_the_package_reads():
    # Cheap companion to the wheel tests, for machines without setuptools>=77.
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    declared = project["tool"]["setuptools"]["package-data"]["hardener"]
    assert "py.typed" in declared and "data/*.toml" in declared
    assert (ROOT / "hardener" / "py.typed").is_file()
    assert project["project"]["license"] == "MIT" and project["project"]["license-files"] == ["LICENSE"]
