"""The Docker builder: a deterministic Dockerfile per spec, built and pushed with `docker buildx`.

The Dockerfile text depends only on the spec and on file *contents*: every local file a layer names
is copied into the build context under `_flyte/<kind>-<sha12>/`, never under its absolute path, so
the same spec gives the same Dockerfile on every machine (and the tests compare it to expected
files). Without a Docker engine (`docker info` fails) the builder stops before preparing anything.

With a registry the image is pushed (`--push`); without one it is loaded into the local engine
(`--load`), which is what a single-machine Kubernetes (kind, minikube) wants.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import List, Optional, Union

from flyte_jupyter._image import (
    AptPackages,
    Commands,
    EnvVars,
    Image,
    PipPackages,
    Requirements,
    SourceFile,
    SourceFolder,
    UVScript,
    WorkDir,
    file_sha256,
    folder_sha256,
    iter_folder,
)
from flyte_jupyter._internal.imagebuild.cache import images_home
from flyte_jupyter.errors import DockerEngineUnavailableError, ImageBuildError

CONTEXT_DIR = "_flyte"
DEFAULT_WORKDIR = "/root"
BUILD_TIMEOUT_S = 3600.0





class DockerBuilder:
    """Builds specs into container images with `docker buildx build`."""

    name = "docker"

    def __init__(self, docker: str = "docker", home: Union[str, Path, None] = None) -> None:
        self.docker = docker
        self.home = Path(home) if home is not None else images_home()

    def check(self, image: Image) -> None:
        """Every spec is expressible as a Dockerfile; nothing to refuse up front."""

    def exists(self, reference: str) -> bool:
        return bool(reference)  # pushed images are trusted; `image prune` forgets them explicitly

    def check_engine(self) -> None:
        """Fail early and clearly when there is no docker client or no engine behind it."""
        exe = shutil.which(self.docker)
        if exe is None:
            raise DockerEngineUnavailableError(
                f"the Docker builder needs the `{self.docker}` command, which is not on PATH; install "
                "Docker (with buildx), or use the local builder (`--builder local`)"
            )
        try:
            proc = subprocess.run([exe, "info", "--format", "{{.ServerVersion}}"], capture_output=True, text=True, timeout=30)
        except subprocess.TimeoutExpired:
            raise DockerEngineUnavailableError("`docker info` did not answer within 30s: is the Docker engine hung?") from None
        if proc.returncode != 0 or not proc.stdout.strip():
            detail = (proc.stderr or proc.stdout).strip().splitlines()
            raise DockerEngineUnavailableError(
                "no Docker engine answers (`docker info` failed"
                + (f": {detail[-1]}" if detail else "")
                + "); start Docker or point DOCKER_HOST at a running engine, or use the local builder "
                "(`--builder local`); nothing was built"
            )

    def build(self, image: Image, key: str) -> str:
        """Check the engine, write a build context, `docker buildx build`, return the image URI.

        An unlayered `from_base` image already exists: its URI is returned, nothing is built."""
        if is_prebuilt(image):
            return str(image.base_image)
        self.check_engine()
        uri = image.uri_for(key)
        with tempfile.TemporaryDirectory(prefix="flyte-image-") as tmp:
            ctx = Path(tmp)
            if image.dockerfile is not None:
                dockerfile = image.dockerfile.resolve()
                if not dockerfile.is_file():
                    raise ImageBuildError(f"the Dockerfile {image.dockerfile} does not exist")
                ctx = dockerfile.parent
            else:
                write_context(image, ctx)
                dockerfile = ctx / "Dockerfile"
            cmd = [self.docker, "buildx", "build", "--platform", ",".join(image.platform), "-t", uri, "-f", str(dockerfile)]
            cmd.append("--push" if image.registry else "--load")
            cmd.append(str(ctx))
            try:
                proc = subprocess.run(cmd, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                raise ImageBuildError(f"`docker buildx build` of {uri} did not finish in {BUILD_TIMEOUT_S:.0f}s") from None
        if proc.returncode != 0:
            tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-20:])
            raise ImageBuildError(f"`{shlex.join(cmd)}` failed (exit {proc.returncode}):\n{tail}")
        return uri


def is_prebuilt(image: Image) -> bool:
    """True for `Image.from_base(uri)` (or a plain URI string) with no layers: nothing to build."""
    return image.dockerfile is None and not image.debian_base and not image.layers and bool(image.base_image)


# ------------------------------------------------------------------------------------- Dockerfile


def dockerfile_text(image: Image, flyte_jupyter_version: Optional[str] = None) -> str:
    """The Dockerfile for a layered spec, deterministic in the spec and file contents.

    `flyte_jupyter_version` pins the flyte-jupyter installed into a Debian base when the spec does
    not (`flyte_version=`); by default the version running here."""
    if image.dockerfile is not None:
        return Path(image.dockerfile).read_text()
    lines: List[str] = [
        "# syntax=docker/dockerfile:1",
        "# Generated by flyte-jupyter from an image spec; edit the spec, not this file.",
        f"FROM {image.base_image}",
    ]
    if image.debian_base:
        lines += [
            "ENV PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PIP_ROOT_USER_ACTION=ignore",
            f"WORKDIR {DEFAULT_WORKDIR}",
        ]
        if image.install_flyte:
            version = image.flyte_version or flyte_jupyter_version or _own_version()
            spec = f"flyte-jupyter=={version}" if version else "flyte-jupyter"
            lines.append(f"RUN python -m pip install {shlex.quote(spec)}")
    for layer in image.layers:
        lines += _layer_lines(layer)
    return "\n".join(lines) + "\n"


def write_context(image: Image, ctx: Path, flyte_jupyter_version: Optional[str] = None) -> None:
    """Write the Dockerfile and copy every file a layer names into the build context `ctx`."""
    ctx.mkdir(parents=True, exist_ok=True)
    for layer in image.layers:
        if isinstance(layer, Requirements):
            _copy_file(layer.file, ctx / _context_path(layer))
        elif isinstance(layer, SourceFile):
            _copy_file(layer.src, ctx / _context_path(layer))
        elif isinstance(layer, SourceFolder):
            dst = ctx / _context_path(layer)
            for rel, full in iter_folder(layer.src):
                _copy_file(full, dst / rel)
    (ctx / "Dockerfile").write_text(dockerfile_text(image, flyte_jupyter_version))


def _layer_lines(layer: object) -> List[str]:
    if isinstance(layer, AptPackages):
        pkgs = " ".join(shlex.quote(p) for p in layer.packages)
        return [
            "RUN apt-get update \\",
            f"    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends {pkgs} \\",
            "    && rm -rf /var/lib/apt/lists/*",
        ]
    if isinstance(layer, PipPackages):
        args = _pip_args(layer) + [shlex.quote(p) for p in layer.packages]
        return ["RUN python -m pip install " + " ".join(args)]
    if isinstance(layer, UVScript):
        packages = layer.packages()
        if not packages:
            return [f"# {layer.script.name}: no dependencies beyond flyte-jupyter"]
        return ["RUN python -m pip install " + " ".join(_pip_args(layer) + [shlex.quote(p) for p in packages])]
    if isinstance(layer, Requirements):
        target = f"/tmp/{_context_path(layer)}"
        return [
            f"COPY {_context_path(layer)} {target}",
            "RUN python -m pip install " + " ".join(_pip_args(layer) + ["-r", target]),
        ]
    if isinstance(layer, EnvVars):
        return ["ENV " + " ".join(f"{k}={json.dumps(v)}" for k, v in layer.items)]
    if isinstance(layer, Commands):
        return [f"RUN {cmd}" for cmd in layer.commands]
    if isinstance(layer, WorkDir):
        return [f"WORKDIR {layer.path}"]
    if isinstance(layer, SourceFolder):
        dst = layer.dst if layer.dst.endswith("/") else layer.dst + "/"
        return [f"COPY {_context_path(layer)}/ {dst}"]
    if isinstance(layer, SourceFile):
        dst = layer.dst if layer.dst not in (".", "./") else "./"
        return [f"COPY {_context_path(layer)} {dst}"]
    raise ImageBuildError(f"the Docker builder does not know the layer {layer!r}")


def _pip_args(layer: Union[PipPackages, Requirements, UVScript]) -> List[str]:
    args: List[str] = []
    if layer.index_url:
        args += ["--index-url", shlex.quote(layer.index_url)]
    for url in layer.extra_index_urls:
        args += ["--extra-index-url", shlex.quote(url)]
    if layer.pre:
        args.append("--pre")
    if layer.extra_args:
        args += [shlex.quote(a) for a in shlex.split(layer.extra_args)]
    return args


def _context_path(layer: Union[Requirements, SourceFile, SourceFolder]) -> str:
    """Content-addressed place of a layer's files inside the build context (no absolute paths)."""
    if isinstance(layer, Requirements):
        return f"{CONTEXT_DIR}/requirements-{file_sha256(layer.file)[:12]}/{layer.file.name}"
    if isinstance(layer, SourceFile):
        return f"{CONTEXT_DIR}/file-{file_sha256(layer.src)[:12]}/{layer.src.name}"
    return f"{CONTEXT_DIR}/folder-{folder_sha256(layer.src)[:12]}/{layer.src.name}"


def _copy_file(src: Path, dst: Path) -> None:
    if not Path(src).is_file():
        raise ImageBuildError(f"image spec names {src}, which does not exist (cwd: {os.getcwd()})")
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)


def _own_version() -> Optional[str]:
    try:
        from importlib.metadata import version

        return version("flyte-jupyter")
    except Exception:
        return None
