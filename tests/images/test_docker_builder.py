"""The Docker builder without an engine: generated Dockerfiles against expected files, settings
refused up front, no engine -> clear error, and the `docker buildx` path (through a fake client:
the real engine's client here has no buildx; everything else is built for real in
test_docker_engine.py).

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
from flyte_jupyter._internal.imagebuild.docker import (
    DockerBuilder,
    dockerfile_text,
    native_target,
    platform_tags,
    write_context,
)
from flyte_jupyter.errors import DockerEngineUnavailableError, ImageBuildError

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


WHEELHOUSE = ("debian_pip_apt_env", "base_requirements_commands", "debian_copy_contents")


@pytest.mark.parametrize(
    "name,wheelhouse", [(n, False) for n in sorted(SPECS)] + [(n, True) for n in sorted(WHEELHOUSE)]
)
def test_generated_dockerfile_matches_the_expected_file(name: str, wheelhouse: bool) -> None:
    text = dockerfile_text(SPECS[name](), wheelhouse=wheelhouse)
    expected = EXPECTED / f"{name}{'.wheelhouse' if wheelhouse else ''}.Dockerfile"
    if os.environ.get("FLYTE_JUPYTER_UPDATE_EXPECTED"):
        expected.write_text(text)
    assert text == expected.read_text()
    assert dockerfile_text(SPECS[name](), wheelhouse=wheelhouse) == text, "generation must be deterministic"
    assert "# syntax=" not in text  # BuildKit would fetch that frontend image from a registry


def test_wheelhouse_installs_name_no_index() -> None:
    text = dockerfile_text(SPECS["debian_pip_apt_env"](), wheelhouse=True)
    assert "example.invalid" not in text  # index options are used on this machine, not in the build
    for line in text.splitlines():
        if "pip install" in line:
            assert "--no-index --find-links /tmp/flyte-wheels/" in line


def test_a_local_flyte_wheel_is_copied_when_pip_runs_in_the_build() -> None:
    image = Image.from_debian_base(python_version=(3, 11))
    text = dockerfile_text(image, local_flyte=True)
    assert "COPY _flyte/flyte-jupyter/ /tmp/flyte-jupyter/" in text
    assert "RUN python -m pip install /tmp/flyte-jupyter/flyte_jupyter-*.whl" in text
    pinned = dockerfile_text(Image.from_debian_base(python_version=(3, 11), flyte_version="0.3.0"), local_flyte=True)
    assert "RUN python -m pip install flyte-jupyter==0.3.0" in pinned and "COPY" not in pinned


def test_apt_without_build_network_is_refused_up_front(fresh_home: Path) -> None:
    image = Image.from_debian_base(install_flyte=False).with_apt_packages("jq")
    with pytest.raises(ImageBuildError, match="apt packages"):
        resolve_image(image, builder=DockerBuilder(home=fresh_home, network="none"))
    pip_in_build = Image.from_debian_base(install_flyte=False).with_pip_packages("six")
    with pytest.raises(ImageBuildError, match="pip_from='host'"):
        DockerBuilder(home=fresh_home, network="none", pip_from="build").check(pip_in_build)
    DockerBuilder(home=fresh_home, network="none").check(pip_in_build)  # wheels from this machine: fine
    assert ImageCache(fresh_home / "cache.sqlite").entries() == []


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLYTE_JUPYTER_DOCKER_PIP", "build")
    monkeypatch.setenv("FLYTE_JUPYTER_DOCKER_NETWORK", "host")
    builder = DockerBuilder()
    assert (builder.pip_from, builder.network) == ("build", "host")
    monkeypatch.setenv("FLYTE_JUPYTER_DOCKER_NETWORK", "bridge-please")
    with pytest.raises(ValueError, match="FLYTE_JUPYTER_DOCKER_NETWORK"):
        DockerBuilder()


def test_wheels_are_fetched_for_the_images_python_and_platform() -> None:
    here = (sys.version_info[0], sys.version_info[1])
    other = (3, 10) if here != (3, 10) else (3, 12)
    assert not native_target(Image.from_debian_base(python_version=other))
    assert not native_target(Image.from_debian_base(platform=("linux/amd64", "linux/arm64")))
    assert platform_tags(Image.from_debian_base(platform=("linux/arm64",))) == ["manylinux_2_36_aarch64", "linux_aarch64"]
    assert platform_tags(Image.from_base("x:1").with_env_vars({"A": "1"}))[0] == "manylinux_2_28_x86_64"


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
    """A `docker` with buildx on PATH (see fake_docker.py): the one path the real engine lacks."""
    bindir = tmp_path / "fakebin"
    bindir.mkdir()
    exe = bindir / "docker"
    exe.write_text(f"#!/bin/sh\nexec {sys.executable} {Path(__file__).parent / 'fake_docker.py'} \"$@\"\n")
    exe.chmod(0o755)
    state = tmp_path / "docker-state.json"
    monkeypatch.setenv("FAKE_DOCKER_STATE", str(state))
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    return state


def test_buildx_pushes_once_and_pins_the_digest(fresh_home: Path, fake_docker: Path) -> None:
    image = Image.from_debian_base(python_version=(3, 11), registry="localhost:5000", name="srcs", install_flyte=False)
    image = image.with_source_folder(FIXTURES / "mypkg").with_requirements(FIXTURES / "requirements.txt")
    builder = DockerBuilder(home=fresh_home, pip_from="build")
    assert builder.build_mode().kind == "buildx"
    first = resolve_image(image, builder=builder)
    second = resolve_image(image, builder=builder)
    assert first is not None and second is not None and first.built and not second.built
    state = json.loads(fake_docker.read_text())
    assert state["pushed"] == [image.uri] and state["loaded"] == []
    assert first.reference == f"{image.uri}@{state['builds'][0]['digest']}"
    build = state["builds"][0]
    assert build["dockerfile"] == dockerfile_text(image) and build["platform"] == "linux/amd64"
    assert build["network"] is None  # a buildx builder keeps its own network unless one is chosen
    assert build["label"] == f"org.flyte-jupyter.image-key={first.key}"


def test_buildx_without_registry_loads_locally(fresh_home: Path, fake_docker: Path) -> None:
    image = Image.from_base("python:3.11-slim").with_env_vars({"A": "1"})
    builder = DockerBuilder(home=fresh_home, network="host")
    resolved = resolve_image(image, builder=builder)
    assert resolved is not None and resolved.reference == image.uri and resolved.reference.startswith("flyte-jupyter:")
    state = json.loads(fake_docker.read_text())
    assert state["loaded"] == [resolved.reference] and state["builds"][0]["network"] == "host"
    assert builder.exists(resolved.reference) and not builder.exists("flyte-jupyter:" + "0" * 20)


def test_buildx_builds_a_user_dockerfile_from_its_folder(fresh_home: Path, fake_docker: Path) -> None:
    image = Image.from_dockerfile(FIXTURES / "custom.Dockerfile", registry="localhost:5000", name="custom")
    resolved = resolve_image(image, builder=DockerBuilder(home=fresh_home))
    state = json.loads(fake_docker.read_text())
    assert resolved is not None and state["pushed"] == [image.uri]
    assert state["builds"][0]["dockerfile"] == (FIXTURES / "custom.Dockerfile").read_text()


def test_several_platforms_need_buildx(fresh_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # a client without buildx (docker.io's 20.10) in front of an engine: one platform only
    exe = tmp_path / "docker"
    exe.write_text(
        "#!/bin/sh\ncase \"$1\" in info) echo 20.10.24;; version) echo 20.10.24;; *) echo \"no $1\" >&2; exit 1;; esac\n"
    )
    exe.chmod(0o755)
    image = Image.from_debian_base(python_version=(3, 11), platform=("linux/amd64", "linux/arm64"), install_flyte=False)
    builder = DockerBuilder(docker=str(exe), home=fresh_home)
    assert builder.build_mode().kind == "buildkit"
    with pytest.raises(ImageBuildError, match="several platforms"):
        builder.build(image.with_env_vars({"A": "1"}), "1" * 64)
