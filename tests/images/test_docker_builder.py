"""The Docker builder: generated Dockerfiles against expected files, and no engine -> clear error.

Regenerate the expected files after an intended change with
`FLYTE_JUPYTER_UPDATE_EXPECTED=1 pytest tests/images/test_docker_builder.py`, then review the diff.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Callable, Dict

import pytest

from flyte_jupyter._image import Image
from flyte_jupyter._internal.imagebuild import get_builder, resolve_image
from flyte_jupyter._internal.imagebuild.cache import ImageCache
from flyte_jupyter._internal.imagebuild.docker import DockerBuilder, dockerfile_text, write_context
from flyte_jupyter.errors import DockerEngineUnavailableError

from .conftest import EXPECTED, FIXTURES

SPECS: Dict[str, Callable[[], Image]] = {
    "debian_pip_apt_env": lambda: (
        Image.from_debian_base(python_version=(3, 12), flyte_version="0.1.0", registry="localhost:5000", name="etl")
        .with_apt_packages("curl", "git")
        .with_pip_packages("pandas==2.2.3", "numpy>=1.26", index_url="https://packages.example.invalid/simple", pre=True)
        .with_env_vars({"MODE": "prod", "GREETING": "hello world"})
    ),
    "base_requirements_commands": lambda: (
        Image.from_base("python:3.11-slim")
        .with_requirements(FIXTURES / "requirements.txt", extra_index_urls=["https://a.example.invalid/simple"])
        .with_commands(["echo building", "mkdir -p /data"])
        .with_workdir("/app")
    ),
    "debian_sources_no_flyte": lambda: (
        Image.from_debian_base(python_version=(3, 11), install_flyte=False)
        .with_source_folder(FIXTURES / "mypkg")
        .with_source_file(FIXTURES / "helper.py")
        .with_source_file(FIXTURES / "helper.py", "/opt/lib/helper.py")
    ),
    "debian_copy_contents": lambda: (
        Image.from_debian_base(python_version=(3, 10), flyte_version="0.2.0")
        .with_workdir("/srv")
        .with_source_folder(FIXTURES / "mypkg", copy_contents_only=True)
        .with_pip_packages("six", extra_args="--no-deps --only-binary :all:")
    ),
}


@pytest.mark.parametrize("name", sorted(SPECS))
def test_generated_dockerfile_matches_the_expected_file(name: str) -> None:
    text = dockerfile_text(SPECS[name]())
    expected = EXPECTED / f"{name}.Dockerfile"
    if os.environ.get("FLYTE_JUPYTER_UPDATE_EXPECTED"):
        expected.write_text(text)
    assert text == expected.read_text()
    assert dockerfile_text(SPECS[name]()) == text, "generation must be deterministic"


def test_build_context_holds_every_named_file(tmp_path: Path) -> None:
    image = SPECS["debian_sources_no_flyte"]().with_requirements(FIXTURES / "requirements.txt")
    write_context(image, tmp_path)
    dockerfile = (tmp_path / "Dockerfile").read_text()
    copied = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    assert "Dockerfile" in copied
    for rel in copied:
        if rel != "Dockerfile":
            top = "/".join(rel.split("/")[:2])
            assert top in dockerfile, f"{rel} is copied but the Dockerfile never uses it"
    assert any(rel.endswith("mypkg/__init__.py") for rel in copied)
    assert sum(rel.endswith("helper.py") for rel in copied) == 1  # same content, one copy


def test_user_dockerfile_is_used_as_is() -> None:
    image = Image.from_dockerfile(FIXTURES / "custom.Dockerfile", registry="localhost:5000", name="custom")
    assert dockerfile_text(image) == (FIXTURES / "custom.Dockerfile").read_text()


def test_no_engine_is_a_clear_error_before_anything_happens(fresh_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Point the client at a socket nobody listens on: no engine, whatever this machine has.
    monkeypatch.setenv("DOCKER_HOST", f"unix://{fresh_home}/no-such-docker.sock")
    image = Image.from_debian_base().with_pip_packages("six").with_source_file(fresh_home / "never-read.py")
    builder = DockerBuilder(home=fresh_home)
    with pytest.raises(DockerEngineUnavailableError) as err:
        builder.build(image, "0" * 64)  # the missing source file is never reached
    message = str(err.value)
    assert "no Docker engine" in message or "not on PATH" in message
    assert "--builder local" in message


def test_no_engine_through_resolution_records_nothing(fresh_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{fresh_home}/no-such-docker.sock")
    image = Image.from_debian_base().with_apt_packages("curl")
    with pytest.raises(DockerEngineUnavailableError):
        resolve_image(image, builder=get_builder("docker"))
    assert ImageCache(fresh_home / "cache.sqlite").entries() == []


def test_no_docker_client_is_a_clear_error(fresh_home: Path) -> None:
    builder = DockerBuilder(docker="docker-does-not-exist-here", home=fresh_home)
    with pytest.raises(DockerEngineUnavailableError, match="not on PATH"):
        builder.check_engine()


def test_an_existing_image_uri_needs_no_build_and_no_engine(fresh_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{fresh_home}/no-such-docker.sock")
    resolved = resolve_image("python:3.11-slim", builder=get_builder("docker"))
    assert resolved is not None and resolved.reference == "python:3.11-slim"


@pytest.fixture
def fake_docker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A `docker` on PATH that behaves like a client with an engine (see fake_docker.py)."""
    bindir = tmp_path / "fakebin"
    bindir.mkdir()
    exe = bindir / "docker"
    exe.write_text(f"#!/bin/sh\nexec {sys.executable} {Path(__file__).parent / 'fake_docker.py'} \"$@\"\n")
    exe.chmod(0o755)
    state = tmp_path / "docker-state.json"
    monkeypatch.setenv("FAKE_DOCKER_STATE", str(state))
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    return state


def test_build_pushes_a_generated_image_once(fresh_home: Path, fake_docker: Path) -> None:
    image = Image.from_debian_base(python_version=(3, 11), registry="localhost:5000", name="srcs", install_flyte=False)
    image = image.with_source_folder(FIXTURES / "mypkg").with_requirements(FIXTURES / "requirements.txt")
    first = resolve_image(image, builder=get_builder("docker"))
    second = resolve_image(image, builder=get_builder("docker"))
    assert first.built and not second.built
    assert first.reference == image.uri and first.reference.startswith("localhost:5000/srcs:")
    state = json.loads(fake_docker.read_text())
    assert state["pushed"] == [first.reference] and state["loaded"] == []
    assert state["builds"][0]["dockerfile"] == dockerfile_text(image)
    assert state["builds"][0]["platform"] == "linux/amd64"


def test_build_without_registry_loads_locally(fresh_home: Path, fake_docker: Path) -> None:
    image = Image.from_base("python:3.11-slim").with_pip_packages("six")
    resolved = resolve_image(image, builder=get_builder("docker"))
    assert resolved.reference.startswith("flyte-jupyter:")
    assert json.loads(fake_docker.read_text())["loaded"] == [resolved.reference]


def test_user_dockerfile_builds_from_its_folder(fresh_home: Path, fake_docker: Path) -> None:
    image = Image.from_dockerfile(FIXTURES / "custom.Dockerfile", registry="localhost:5000", name="custom")
    resolved = resolve_image(image, builder=get_builder("docker"))
    state = json.loads(fake_docker.read_text())
    assert state["pushed"] == [resolved.reference]
    assert state["builds"][0]["dockerfile"] == (FIXTURES / "custom.Dockerfile").read_text()
