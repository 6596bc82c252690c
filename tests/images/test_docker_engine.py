"""The Docker builder against a real engine: build, push, pull back by digest, run offline.

Every test here uses the session's private dockerd (see docker_engine.py and conftest.py), found
through DOCKER_HOST, with the base images `.ci/setup-docker.sh` built on this machine. Built images
run with `--network none`, so whatever they import was put there by the build.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import subprocess
import sys
import textwrap
import threading
import urllib.request
from pathlib import Path
from typing import Tuple

import pytest

from flyte_jupyter._image import Image
from flyte_jupyter._internal.imagebuild import resolve_image
from flyte_jupyter._internal.imagebuild.cache import ImageCache
from flyte_jupyter._internal.imagebuild.docker import DockerBuilder
from flyte_jupyter.errors import ImageBuildError

from .conftest import FIXTURES, PKG_A, PKG_B
from .docker_engine import Engine, EngineUnavailable, start_engine

pytestmark = pytest.mark.docker

DEBIAN_CLIENT = "/usr/bin/docker"  # Debian's docker.io client (20.10): BuildKit built in, no buildx


def python_of(engine: Engine) -> Tuple[int, int]:
    major, minor = engine.python.split(".")
    return int(major), int(minor)


def run_in(engine: Engine, reference: str, *cmd: str) -> str:
    """Run a command in a fresh container without any network; its stdout."""
    return engine.docker("run", "--rm", "--network", "none", reference, *cmd).stdout


def build_log(home: Path, key: str) -> str:
    return (home / "logs" / f"docker-{key[:16]}.log").read_text()


def test_the_engine_runs_containers_without_network(docker_host: Engine) -> None:
    out = run_in(docker_host, docker_host.bases["busybox"], "sh", "-c", "ls /sys/class/net; echo ok")
    assert out.split() == ["lo", "ok"]
    info = json.loads(docker_host.docker("info", "--format", "{{json .}}").stdout)
    assert info["Driver"] == docker_host.storage_driver and info["DockerRootDir"].startswith(str(docker_host.root))


def test_pip_spec_is_built_pushed_and_pulled_back_by_digest(docker_host: Engine, fresh_home: Path) -> None:
    image = (
        Image.from_debian_base(python_version=python_of(docker_host), install_flyte=False,
                               registry=docker_host.registry, name="pip-spec")
        .with_pip_packages(PKG_A[1], extra_args="--no-deps")
        .with_requirements(FIXTURES / "requirements.txt")
        .with_env_vars({"IMAGE_NAME": "a"})
        .with_source_file(FIXTURES / "helper.py")
        .with_source_folder(FIXTURES / "mypkg")
    )
    first = resolve_image(image, builder=DockerBuilder(home=fresh_home))
    assert first is not None and first.built
    assert first.reference.startswith(image.uri + "@sha256:")
    second = resolve_image(image, builder=DockerBuilder(home=fresh_home))
    assert second is not None and not second.built and second.reference == first.reference
    assert ImageCache(fresh_home / "cache.sqlite").build_count() == 1

    tag = image.uri.rsplit(":", 1)[1]
    with urllib.request.urlopen(f"http://{docker_host.registry}/v2/pip-spec/tags/list", timeout=10) as resp:
        assert tag in json.loads(resp.read())["tags"]

    # Forget every local copy: running by digest must pull the image back from the registry.
    repo, digest = first.reference.split("@")
    docker_host.docker("rmi", "-f", image.uri, f"{repo.rsplit(':', 1)[0]}@{digest}")
    assert docker_host.docker("image", "inspect", first.reference, check=False).returncode != 0
    out = run_in(docker_host, first.reference, "python", "-c", textwrap.dedent(
        """
        import importlib.util, os, helper, mypkg, iso8601, requests
        print(helper.answer(), mypkg.GREETING, os.environ["IMAGE_NAME"], requests.__version__,
              importlib.util.find_spec("termcolor") is None, importlib.util.find_spec("flyte_jupyter") is None)
        """
    ))
    assert out.split() == ["42", "hello", "from", "mypkg", "a", "2.32.3", "True", "True"]

    log = build_log(fresh_home, first.key)
    assert log.count("docker buildx is not available") == 1, log[:400]
    assert "pip wheel" in log and f" push {image.uri}" in log and f" pull {repo.rsplit(':', 1)[0]}@{digest}" in log


def test_debian_base_installs_the_flyte_jupyter_running_here(docker_host: Engine, fresh_home: Path) -> None:
    image = Image.from_debian_base(python_version=python_of(docker_host)).with_pip_packages(PKG_B[1])
    resolved = resolve_image(image, builder=DockerBuilder(home=fresh_home))
    assert resolved is not None and resolved.reference == image.uri  # no registry: kept in the engine
    out = run_in(docker_host, resolved.reference, "python", "-c", textwrap.dedent(
        f"""
        import importlib.metadata as m, flyte_jupyter, grpc, {PKG_B[0]}
        import flyte_jupyter._internal.runtime.entrypoint
        print(m.version("flyte-jupyter"), flyte_jupyter.__file__)
        """
    ))
    version, where = out.split()
    assert version == _own_version() and where.startswith("/usr/local/lib/python")
    help_text = run_in(docker_host, resolved.reference, "python", "-m", "flyte_jupyter.entrypoint", "--help")
    assert "--inputs" in help_text


def _own_version() -> str:
    from importlib.metadata import version

    return version("flyte-jupyter")


def test_apt_packages_come_from_debian_over_host_networking(docker_host: Engine, fresh_home: Path) -> None:
    image = Image.from_debian_base(python_version=python_of(docker_host), install_flyte=False).with_apt_packages("jq")
    with pytest.raises(ImageBuildError, match="network='host'"):
        DockerBuilder(home=fresh_home, network="none").check(image)
    resolved = resolve_image(image, builder=DockerBuilder(home=fresh_home))
    assert resolved is not None
    assert run_in(docker_host, resolved.reference, "jq", "--version").startswith("jq-")
    assert "--network host" in build_log(fresh_home, resolved.key)


def test_pip_can_run_inside_the_build_over_host_networking(docker_host: Engine, fresh_home: Path, tmp_path: Path) -> None:
    # pip_from="build": the build's own pip fetches, here from a find-links page on this host's loopback
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", str(wheels), PKG_A[1]],
                   check=True, timeout=300)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(wheels))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/"
        image = (
            Image.from_debian_base(python_version=python_of(docker_host), install_flyte=False)
            .with_pip_packages(PKG_A[1], extra_args=f"--no-index --find-links {url}")
        )
        resolved = resolve_image(image, builder=DockerBuilder(home=fresh_home, pip_from="build"))
    finally:
        server.shutdown()
        server.server_close()
    assert resolved is not None
    assert run_in(docker_host, resolved.reference, "python", "-c", f"import {PKG_A[0]}; print('ok')").strip() == "ok"
    log = build_log(fresh_home, resolved.key)
    assert "--network host" in log and f"pip install --no-index --find-links {url}" in log and "pip wheel" not in log


def test_docker_build_uses_the_engines_buildkit_when_the_client_has_it(docker_host: Engine, fresh_home: Path) -> None:
    if not os.access(DEBIAN_CLIENT, os.X_OK):
        pytest.skip(f"{DEBIAN_CLIENT} (Debian's docker.io client, BuildKit built in) is not installed")
    image = (
        Image.from_base(docker_host.bases["busybox"])
        .with_workdir("/srv")
        .with_commands(["echo built > /greeting"])
        .with_env_vars({"MODE": "buildkit"})
        .with_source_file(FIXTURES / "helper.py")
    )
    builder = DockerBuilder(docker=DEBIAN_CLIENT, home=fresh_home)
    assert builder.build_mode().kind == "buildkit"
    resolved = resolve_image(image, builder=builder)
    assert resolved is not None
    out = run_in(docker_host, resolved.reference, "sh", "-c", "cat /greeting; echo $MODE; pwd; ls")
    assert out.split() == ["built", "buildkit", "/srv", "helper.py"]
    log = build_log(fresh_home, resolved.key)
    assert "the engine's BuildKit" in log and "DONE" in log  # BuildKit's plain progress


def test_user_dockerfile_is_built_and_pushed(docker_host: Engine, fresh_home: Path, tmp_path: Path) -> None:
    (tmp_path / "data.txt").write_text("from the context\n")
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(f"FROM {docker_host.bases['busybox']}\nCOPY data.txt /data.txt\nCMD [\"cat\", \"/data.txt\"]\n")
    image = Image.from_dockerfile(dockerfile, registry=docker_host.registry, name="custom")
    resolved = resolve_image(image, builder=DockerBuilder(home=fresh_home))
    assert resolved is not None and "@sha256:" in resolved.reference
    assert docker_host.docker("run", "--rm", "--network", "none", resolved.reference).stdout == "from the context\n"


def test_an_image_removed_from_the_engine_is_built_again(docker_host: Engine, fresh_home: Path) -> None:
    image = Image.from_base(docker_host.bases["busybox"]).with_env_vars({"REBUILT": "yes"})
    builder = DockerBuilder(home=fresh_home)
    first = resolve_image(image, builder=builder)
    assert first is not None and first.built
    assert resolve_image(image, builder=builder).built is False  # type: ignore[union-attr]
    docker_host.docker("rmi", first.reference)
    again = resolve_image(image, builder=builder)
    assert again is not None and again.built and again.reference == first.reference
    assert run_in(docker_host, again.reference, "sh", "-c", "echo $REBUILT").strip() == "yes"
    assert ImageCache(fresh_home / "cache.sqlite").build_count() == 2


def test_a_failing_step_names_its_log_and_records_nothing(docker_host: Engine, fresh_home: Path) -> None:
    image = Image.from_base(docker_host.bases["busybox"]).with_commands(["echo about to fail", "exit 3"])
    with pytest.raises(ImageBuildError) as err:
        resolve_image(image, builder=DockerBuilder(home=fresh_home))
    message = str(err.value)
    assert "exit 3" in message and "full log:" in message
    log_path = Path(message.split("full log: ")[1].split(")")[0])
    assert "about to fail" in log_path.read_text()
    assert ImageCache(fresh_home / "cache.sqlite").entries() == []


def test_image_cli_builds_lists_and_prunes_docker_images(docker_host: Engine, tmp_path: Path) -> None:
    home = tmp_path / "home"
    envs = tmp_path / "envs.py"
    envs.write_text(textwrap.dedent(
        f"""
        import flyte_jupyter as flyte

        env_bb = flyte.TaskEnvironment(
            name="env_bb", image=flyte.Image.from_base({docker_host.bases['busybox']!r}).with_env_vars({{"CLI": "1"}}),
        )
        """
    ))
    env = dict(os.environ, FLYTE_JUPYTER_IMAGE_HOME=str(home), DOCKER_HOST=docker_host.host)

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "flyte_jupyter.cli", "image", *args], env=env,
                              capture_output=True, text=True, timeout=300)

    built = cli("build", str(envs), "--builder", "docker")
    assert built.returncode == 0, built.stderr
    assert "env env_bb" in built.stdout and "built in" in built.stdout
    again = cli("build", str(envs), "--builder", "docker")
    assert again.returncode == 0 and "cached" in again.stdout
    (entry,) = ImageCache(home / "cache.sqlite").entries("docker")
    assert run_in(docker_host, entry.reference, "sh", "-c", "echo $CLI").strip() == "1"
    listed = cli("list", "--builder", "docker")
    assert listed.returncode == 0 and entry.reference in listed.stdout and "env:CLI" in listed.stdout
    pruned = cli("prune", "--all", "--builder", "docker")
    assert pruned.returncode == 0 and "removing docker" in pruned.stdout
    assert ImageCache(home / "cache.sqlite").entries() == []


def test_a_stopped_engine_leaves_no_process_mount_or_file() -> None:
    try:
        engine = start_engine(bases=["busybox"], registry=True)
    except EngineUnavailable as exc:
        pytest.skip(f"no Docker engine: {exc}")
    try:
        engine.docker("run", "-d", "--network", "none", engine.bases["busybox"], "sleep", "600")
        assert len(engine.docker("ps", "-q").stdout.split()) == 1
        assert len(engine.pids()) >= 3  # dockerd, containerd, the registry, the container's shim
    finally:
        engine.stop()
    assert engine.pids() == [] and engine.mounts() == [] and not engine.root.exists()
