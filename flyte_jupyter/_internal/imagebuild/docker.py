"""The Docker builder: a deterministic Dockerfile per spec, built by a Docker engine, pushed, pulled back.

**The Dockerfile** depends only on the spec, on file *contents* and on the builder's pip mode:
every local file a layer names is copied into the build context under `_flyte/<kind>-<sha12>/`,
never under its absolute path, so the same spec gives the same Dockerfile on every machine (the
tests compare it to expected files). It starts with no `# syntax=` line: that line makes BuildKit
fetch a frontend image from a registry, and nothing here needs more than the built-in frontend.

**Where pip packages come from** (`pip_from=`, default `$FLYTE_JUPYTER_DOCKER_PIP` or "host"):

* "host": resolved on this machine by this interpreter's pip and its configuration (index, extra
  indexes, find-links, certificates, credentials) into a wheelhouse per layer inside the build
  context (`_flyte/wheels/<n>/`); the image installs them with `--no-index`. A build then needs no
  network and no secret for pip, and reaches exactly the indexes the user's own pip reaches (a
  container often does not: a TLS-inspecting proxy's CA, a `file://` index, a VPN). When this
  interpreter matches the image (same CPython X.Y, Linux, same CPU) `pip wheel` is used, so source
  distributions are built here; otherwise `pip download --only-binary=:all:` for the image's
  Python and platform (binary wheels only). The wheels stay in the image under /tmp/flyte-wheels.
* "build": `pip install` runs inside the build, against whatever index the build can reach.

**flyte-jupyter in a Debian base** (`from_debian_base()` with `install_flyte`): the version the
spec pins (`flyte_version=`) comes from the index; unpinned, it is the flyte-jupyter running here.
When that one was installed from a source tree (an editable or a local-folder install) its wheel is
built here (`pip wheel`, without the JupyterLab panel) and shipped in the context, so an action
runs the same flyte-jupyter in the container as the client that submitted it. The image cache key
includes a digest of that flyte-jupyter (`flyte_source.py`): changing the SDK rebuilds the image.

**apt packages** always come from inside the build (the base image's own Debian sources), so that
step needs network. `network=` (default `$FLYTE_JUPYTER_DOCKER_NETWORK` or "auto"): "auto" builds
with `--network host` when a step may need network (apt, commands, pip in the build, your own
Dockerfile) and `--network none` otherwise; "host", "none" or "default" (the engine's) force one.
With "none" a spec with apt packages is refused before anything is built.

**The build command**: `docker buildx build` when the client has buildx (`--push` with a registry,
`--load` without, several platforms possible). Without buildx, `docker build`: with the engine's
BuildKit when the client has it built in (clients before 23.0), else the classic builder; the
build log says which, once. A registry image is then `docker push`ed and pulled back by digest.

**The reference** recorded in the image cache: `<registry>/<name>:<tag>@sha256:<digest>` for a
pushed image (pinned: an action runs exactly what was built), `<name>:<tag>` for an image kept in
the local engine. Every build writes its full log to `<image home>/logs/docker-<key16>.log`; a
failure names that file and quotes its tail. Without a Docker engine (`docker info` fails) the
builder stops before preparing anything.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import platform as _platform_mod
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import IO, Dict, List, Optional, Sequence, Tuple, Union

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
from flyte_jupyter._internal.imagebuild.flyte_source import local_flyte_source
from flyte_jupyter._internal.imagebuild.flyte_source import own_version as _own_version
from flyte_jupyter.errors import DockerEngineUnavailableError, ImageBuildError

CONTEXT_DIR = "_flyte"
DEFAULT_WORKDIR = "/root"
BUILD_TIMEOUT_S = 3600.0
ENGINE_TIMEOUT_S = 30.0
WHEELS_IN_IMAGE = "/tmp/flyte-wheels"
FLYTE_WHEEL_DIR = f"{CONTEXT_DIR}/flyte-jupyter"
ENV_PIP = "FLYTE_JUPYTER_DOCKER_PIP"
ENV_NETWORK = "FLYTE_JUPYTER_DOCKER_NETWORK"
PIP_MODES = ("host", "build")
NETWORKS = ("auto", "host", "none", "default")
KEY_LABEL = "org.flyte-jupyter.image-key"
# glibc of the Debian base (bookworm): the newest manylinux wheels its Python can load.
DEBIAN_MANYLINUX = "manylinux_2_36"
OTHER_MANYLINUX = "manylinux_2_28"
_ARCH = {"amd64": "x86_64", "arm64": "aarch64", "arm64/v8": "aarch64", "ppc64le": "ppc64le", "s390x": "s390x"}
_BUILT_TAG = re.compile(r":[0-9a-f]{20}$")

log = logging.getLogger(__name__)
_build_modes: Dict[str, "BuildMode"] = {}  # per docker client and DOCKER_HOST, probed once per process


@dataclasses.dataclass(frozen=True)
class BuildMode:
    """How this client builds: "buildx", "buildkit" (`docker build` with the engine's BuildKit) or
    "classic" (`docker build`, the legacy builder), and the one line the build log says about it."""

    kind: str
    note: str


class DockerBuilder:
    """Builds specs into container images with a Docker engine (`DOCKER_HOST` or the default one)."""

    name = "docker"

    def __init__(
        self,
        docker: str = "docker",
        home: Union[str, Path, None] = None,
        *,
        pip_from: Optional[str] = None,
        network: Optional[str] = None,
    ) -> None:
        self.docker = docker
        self.home = Path(home) if home is not None else images_home()
        self.pip_from = (pip_from or os.environ.get(ENV_PIP) or "host").strip().lower()
        self.network = (network or os.environ.get(ENV_NETWORK) or "auto").strip().lower()
        if self.pip_from not in PIP_MODES:
            raise ValueError(f"pip_from must be one of {', '.join(PIP_MODES)}, got {self.pip_from!r} (${ENV_PIP})")
        if self.network not in NETWORKS:
            raise ValueError(f"network must be one of {', '.join(NETWORKS)}, got {self.network!r} (${ENV_NETWORK})")

    # -- the ImageBuilder protocol ---------------------------------------------------------------

    def check(self, image: Image) -> None:
        """Refuse, before any work, what this builder's settings cannot build."""
        if is_prebuilt(image) or image.dockerfile is not None:
            return
        if self._network_for(image) != "none":
            return
        if any(isinstance(layer, AptPackages) for layer in image.layers):
            raise ImageBuildError(
                f"{image!r} installs apt packages, which are fetched inside the build, but the Docker builder "
                f"builds with --network none (network={self.network!r}); build with network='host' "
                f"(${ENV_NETWORK}=host) or drop with_apt_packages(...)"
            )
        if self.pip_from == "build" and _pip_layers(image):
            raise ImageBuildError(
                f"{image!r} installs pip packages inside the build (pip_from='build') but the build has no network "
                f"(network={self.network!r}); use pip_from='host' (${ENV_PIP}=host) or network='host'"
            )

    def exists(self, reference: str) -> bool:
        """Pushed (digest-pinned) and foreign references are trusted; a tag this builder kept in the
        local engine is looked up there, so a removed image is rebuilt. When no engine answers the
        entry is kept: rebuilding could not help, and running it will report the engine."""
        if not reference or "@sha256:" in reference or not _BUILT_TAG.search(reference):
            return bool(reference)
        exe = shutil.which(self.docker)
        if exe is None:
            return True
        try:
            proc = subprocess.run([exe, "image", "inspect", "--format", "{{.Id}}", reference],
                                  capture_output=True, text=True, timeout=ENGINE_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            return True
        return proc.returncode == 0 or "no such image" not in (proc.stderr + proc.stdout).lower()

    def check_engine(self) -> str:
        """Fail early and clearly when there is no docker client or no engine behind it; the engine's
        version otherwise."""
        exe = shutil.which(self.docker)
        if exe is None:
            raise DockerEngineUnavailableError(
                f"the Docker builder needs the `{self.docker}` command, which is not on PATH; install "
                "Docker, or use the local builder (`--builder local`)"
            )
        try:
            proc = subprocess.run([exe, "info", "--format", "{{.ServerVersion}}"], capture_output=True, text=True,
                                  timeout=ENGINE_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise DockerEngineUnavailableError(
                f"`docker info` did not answer within {ENGINE_TIMEOUT_S:.0f}s: is the Docker engine hung?"
            ) from None
        version = proc.stdout.strip()
        if proc.returncode != 0 or not version or version == "<no value>":
            detail = (proc.stderr or proc.stdout).strip().splitlines()
            raise DockerEngineUnavailableError(
                "no Docker engine answers (`docker info` failed"
                + (f": {detail[-1]}" if detail else "")
                + "); start Docker or point DOCKER_HOST at a running engine, or use the local builder "
                "(`--builder local`); nothing was built"
            )
        return version

    def build(self, image: Image, key: str) -> str:
        """Check the engine, write a build context, build, push and pull back; return the reference.

        An unlayered `from_base` image already exists: its URI is returned, nothing is built."""
        if is_prebuilt(image):
            return str(image.base_image)
        self.check(image)
        server_version = self.check_engine()
        exe = shutil.which(self.docker) or self.docker
        mode = self.build_mode(server_version)
        if len(image.platform) > 1 and mode.kind != "buildx":
            raise ImageBuildError(
                f"{image!r} is for several platforms ({', '.join(image.platform)}), which needs `docker buildx`; "
                "this docker client has no buildx: give one platform, or install buildx"
            )
        uri = image.uri_for(key)
        logs = self.home / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        log_path = logs / f"docker-{key[:16]}.log"
        with tempfile.TemporaryDirectory(prefix="flyte-image-") as tmp, log_path.open("w") as out:
            out.write(f"# flyte-jupyter: building {uri} for {image!r}\n# {mode.note}\n")
            out.flush()
            build = _Build(self, image, uri, out, log_path)
            if image.dockerfile is not None:
                dockerfile = image.dockerfile.resolve()
                if not dockerfile.is_file():
                    raise ImageBuildError(f"the Dockerfile {image.dockerfile} does not exist")
                ctx = dockerfile.parent
            else:
                ctx = Path(tmp) / "context"
                build.prepare_context(ctx, Path(tmp) / "scratch")
                dockerfile = ctx / "Dockerfile"
            network = self._network_for(image)
            metadata = Path(tmp) / "metadata.json"
            cmd, env = self._build_command(exe, mode, image, uri, key, dockerfile, ctx, network, metadata)
            build.run(cmd, "build", env=env)
            if mode.kind == "buildx":
                digest = _metadata_digest(metadata) if image.registry else None
                reference = f"{uri}@{digest}" if digest else uri
            elif image.registry:
                build.run([exe, "push", uri], "push")
                digest = self._repo_digest(exe, uri)
                reference = f"{uri}@{digest}"
                build.run([exe, "pull", f"{_repository(uri)}@{digest}"], "pull back by digest")
            else:
                reference = uri
            out.write(f"# flyte-jupyter: built {reference}\n")
        return reference

    # -- how to build ------------------------------------------------------------------------------

    def build_mode(self, server_version: str = "") -> BuildMode:
        """buildx if the client has it; else `docker build` with BuildKit when client and engine have
        it, else the classic builder. Probed once per client per process (asks the engine its
        version when not given)."""
        exe = shutil.which(self.docker) or self.docker
        probe_key = f"{exe} {os.environ.get('DOCKER_HOST', '')}"
        if probe_key in _build_modes:
            return _build_modes[probe_key]
        mode = _probe_build_mode(exe, server_version or self.check_engine())
        _build_modes[probe_key] = mode
        if mode.kind != "buildx":
            log.info("%s", mode.note)
        return mode

    def _network_for(self, image: Image) -> str:
        if self.network != "auto":
            return self.network
        if image.dockerfile is not None or _needs_network(image, self.pip_from):
            return "host"
        return "none"

    def _build_command(
        self, exe: str, mode: BuildMode, image: Image, uri: str, key: str, dockerfile: Path, ctx: Path,
        network: str, metadata: Path,
    ) -> Tuple[List[str], Dict[str, str]]:
        env = dict(os.environ)
        label = ["--label", f"{KEY_LABEL}={key}"]
        if mode.kind == "buildx":
            cmd = [exe, "buildx", "build", "--platform", ",".join(image.platform), "-t", uri, "-f", str(dockerfile),
                   *label, "--metadata-file", str(metadata)]
            if self.network != "auto":  # a buildx builder has its own network; only a chosen one is passed
                cmd += ["--network", network]
            cmd.append("--push" if image.registry else "--load")
        else:
            env["DOCKER_BUILDKIT"] = "1" if mode.kind == "buildkit" else "0"
            cmd = [exe, "build", "--platform", image.platform[0], "-t", uri, "-f", str(dockerfile), *label]
            if mode.kind == "buildkit":
                cmd += ["--progress", "plain"]
            if network != "default":
                cmd += ["--network", network]
        cmd.append(str(ctx))
        return cmd, env

    def _repo_digest(self, exe: str, uri: str) -> str:
        proc = subprocess.run([exe, "image", "inspect", "--format", "{{json .RepoDigests}}", uri],
                              capture_output=True, text=True, timeout=ENGINE_TIMEOUT_S)
        repo = _repository(uri)
        try:
            digests = json.loads(proc.stdout or "[]") or []
        except ValueError:
            digests = []
        for entry in digests:
            name, _, digest = str(entry).partition("@")
            if name == repo and digest.startswith("sha256:"):
                return digest
        raise ImageBuildError(f"`docker push {uri}` reported no digest for {repo} (repo digests: {digests})")


class _Build:
    """One build's context preparation and commands, all logged to one file."""

    def __init__(self, builder: DockerBuilder, image: Image, uri: str, out: IO[str], log_path: Path) -> None:
        self.builder = builder
        self.image = image
        self.uri = uri
        self.out = out
        self.log_path = log_path

    def run(self, cmd: Sequence[str], what: str, env: Optional[Dict[str, str]] = None) -> None:
        self.out.write(f"\n$ {shlex.join(cmd)}\n")
        self.out.flush()
        try:
            proc = subprocess.run(list(cmd), stdout=self.out, stderr=subprocess.STDOUT, env=env,
                                  stdin=subprocess.DEVNULL, timeout=BUILD_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise ImageBuildError(f"{what} of {self.uri} did not finish in {BUILD_TIMEOUT_S:.0f}s (log: {self.log_path})") from None
        if proc.returncode != 0:
            self.out.flush()
            tail = "\n".join(self.log_path.read_text(errors="replace").strip().splitlines()[-20:])
            raise ImageBuildError(
                f"{what} of {self.uri} failed: `{shlex.join(cmd)}` exited {proc.returncode} "
                f"(full log: {self.log_path}):\n{tail}"
            )

    def prepare_context(self, ctx: Path, scratch: Path) -> None:
        """Copy the spec's files, fill the wheelhouses (pip_from="host"), write the Dockerfile."""
        image = self.image
        wheelhouse = self.builder.pip_from == "host"
        flyte = flyte_requirement(image)
        local = local_flyte_source() if flyte is not None and image.flyte_version is None else None
        local_wheel: Optional[Path] = None
        if local is not None:
            # in the context itself when the image installs that wheel; else pip copies it to a wheelhouse
            local_wheel = self._flyte_wheel(local, scratch / "flyte-jupyter" if wheelhouse else ctx / FLYTE_WHEEL_DIR)
        write_context(image, ctx, wheelhouse=wheelhouse, local_flyte=local_wheel is not None)
        if not wheelhouse:
            return
        for index, layer in _pip_layers(image):
            dest = ctx / wheel_dir(index)
            dest.mkdir(parents=True, exist_ok=True)
            if index == 0:
                reqs = [str(local_wheel)] if local_wheel is not None else [str(flyte)]
                self._host_pip(reqs, [], dest)
            elif isinstance(layer, Requirements):
                self._host_pip(["-r", str(layer.file)], _pip_options(layer), dest)
            elif isinstance(layer, (PipPackages, UVScript)):
                packages = list(layer.packages if isinstance(layer, PipPackages) else layer.packages())
                self._host_pip(packages, _pip_options(layer), dest)

    def _flyte_wheel(self, source: Path, dest: Path) -> Path:
        """A wheel of the flyte-jupyter running here: the installed wheel file, or built from its tree."""
        dest.mkdir(parents=True, exist_ok=True)
        if source.is_file():
            shutil.copyfile(source, dest / source.name)
            return dest / source.name
        # Without the JupyterLab panel (an action needs none); with this environment's hatchling when it
        # has one (no download), else in pip's isolated build environment.
        env = dict(os.environ, SKIP_JUPYTER_BUILDER="1", PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1")
        local_backend = _has_module("hatchling") and _has_module("hatch_jupyter_builder")
        flags = ["--no-build-isolation"] if local_backend else []
        self.run([sys.executable, "-m", "pip", "wheel", "--no-deps", *flags, "-q",
                  "--wheel-dir", str(dest), str(source)], "building the flyte-jupyter wheel", env=env)
        wheels = sorted(dest.glob("flyte_jupyter-*.whl"))
        if len(wheels) != 1:
            raise ImageBuildError(f"building a wheel of {source} gave {[w.name for w in wheels]}, not one flyte_jupyter wheel")
        return wheels[0]

    def _host_pip(self, requirements: List[str], options: List[str], dest: Path) -> None:
        image = self.image
        pv = f"{image.python_version[0]}.{image.python_version[1]}"
        if native_target(image):
            cmd = [sys.executable, "-m", "pip", "wheel", "--wheel-dir", str(dest)]
        else:
            cmd = [sys.executable, "-m", "pip", "download", "--dest", str(dest), "--only-binary=:all:",
                   "--implementation", "cp", "--python-version", pv]
            cmd += [f"--platform={tag}" for tag in platform_tags(image)]
        env = dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1")
        self.run(cmd + options + requirements, f"fetching wheels for python {pv} on this machine", env=env)


# ------------------------------------------------------------------------------ probes and helpers


def _probe_build_mode(exe: str, server_version: str) -> BuildMode:
    try:
        buildx = subprocess.run([exe, "buildx", "version"], capture_output=True, text=True, timeout=ENGINE_TIMEOUT_S)
        if buildx.returncode == 0:
            return BuildMode("buildx", f"building with `docker buildx build` ({buildx.stdout.strip()})")
        client = subprocess.run([exe, "version", "--format", "{{.Client.Version}}"], capture_output=True, text=True,
                                timeout=ENGINE_TIMEOUT_S).stdout.strip()
    except subprocess.TimeoutExpired:
        client = ""
    client_v = _version_tuple(client)
    engine_v = _version_tuple(server_version)
    if (18, 9) <= client_v < (23,) and engine_v >= (18, 9):
        return BuildMode("buildkit", f"docker buildx is not available: building with `docker build` and the engine's "
                                     f"BuildKit (client {client}, engine {server_version})")
    why = (f"docker client {client or '?'} has no built-in BuildKit" if engine_v >= (18, 9)
           else f"engine {server_version or '?'} has no BuildKit")
    return BuildMode("classic", f"docker buildx is not available: building with `docker build` and the classic "
                                f"builder ({why}; install buildx for BuildKit)")


def _has_module(name: str) -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def _version_tuple(text: str) -> Tuple[int, ...]:
    match = re.match(r"v?(\d+)\.(\d+)(?:\.(\d+))?", text.strip())
    return tuple(int(p) for p in match.groups() if p is not None) if match else ()


def _repository(uri: str) -> str:
    """`host:port/name:tag` -> `host:port/name`."""
    last = uri.rsplit("/", 1)
    if ":" in last[-1]:
        return uri.rsplit(":", 1)[0]
    return uri


def _metadata_digest(path: Path) -> Optional[str]:
    try:
        digest = json.loads(path.read_text()).get("containerimage.digest")
    except (OSError, ValueError, AttributeError):
        return None
    return digest if isinstance(digest, str) and digest.startswith("sha256:") else None


def is_prebuilt(image: Image) -> bool:
    """True for `Image.from_base(uri)` (or a plain URI string) with no layers: nothing to build."""
    return image.dockerfile is None and not image.debian_base and not image.layers and bool(image.base_image)


def native_target(image: Image) -> bool:
    """Whether this interpreter can build wheels the image loads: same CPython X.Y, Linux, same CPU."""
    if sys.platform != "linux" or sys.implementation.name != "cpython" or len(image.platform) != 1:
        return False
    if tuple(sys.version_info[:2]) != tuple(image.python_version):
        return False
    os_name, _, arch = image.platform[0].partition("/")
    return os_name == "linux" and _ARCH.get(arch, arch) == _platform_mod.machine()


def platform_tags(image: Image) -> List[str]:
    """pip `--platform` tags for the image (pip also accepts every older manylinux for each)."""
    manylinux = DEBIAN_MANYLINUX if image.debian_base else OTHER_MANYLINUX
    tags: List[str] = []
    for plat in image.platform:
        _, _, arch = plat.partition("/")
        machine = _ARCH.get(arch, arch)
        tags += [f"{manylinux}_{machine}", f"linux_{machine}"]
    return tags


def flyte_requirement(image: Image) -> Optional[str]:
    """The flyte-jupyter requirement a Debian base installs, or None."""
    if not image.debian_base or not image.install_flyte:
        return None
    version = image.flyte_version or _own_version()
    return f"flyte-jupyter=={version}" if version else "flyte-jupyter"


def _pip_layers(image: Image) -> List[Tuple[int, object]]:
    """(wheelhouse index, layer) of every step that pip-installs: 0 is flyte-jupyter, n the n-th layer."""
    found: List[Tuple[int, object]] = []
    if flyte_requirement(image) is not None:
        found.append((0, None))
    for n, layer in enumerate(image.layers, start=1):
        if isinstance(layer, (PipPackages, Requirements)) or (isinstance(layer, UVScript) and layer.packages()):
            found.append((n, layer))
    return found


def _needs_network(image: Image, pip_from: str) -> bool:
    if any(isinstance(layer, (AptPackages, Commands)) for layer in image.layers):
        return True
    return pip_from == "build" and bool(_pip_layers(image))


def wheel_dir(index: int) -> str:
    return f"{CONTEXT_DIR}/wheels/{index}"


# ------------------------------------------------------------------------------------- Dockerfile


def dockerfile_text(
    image: Image,
    flyte_jupyter_version: Optional[str] = None,
    *,
    wheelhouse: bool = False,
    local_flyte: bool = False,
) -> str:
    """The Dockerfile for a layered spec, deterministic in the spec, file contents and pip mode.

    `flyte_jupyter_version` pins the flyte-jupyter installed into a Debian base when the spec does
    not (`flyte_version=`); by default the version running here. `wheelhouse`: pip installs from
    the wheels prepared in the context (pip_from="host"); `local_flyte`: flyte-jupyter is the wheel
    in `_flyte/flyte-jupyter/` (built from the source tree running here)."""
    if image.dockerfile is not None:
        return Path(image.dockerfile).read_text()
    lines: List[str] = [
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
            if wheelhouse:
                lines += _from_wheels(0, [shlex.quote(spec)])
            elif local_flyte and image.flyte_version is None:
                lines += [
                    f"COPY {FLYTE_WHEEL_DIR}/ /tmp/flyte-jupyter/",
                    "RUN python -m pip install /tmp/flyte-jupyter/flyte_jupyter-*.whl",
                ]
            else:
                lines.append(f"RUN python -m pip install {shlex.quote(spec)}")
    for index, layer in enumerate(image.layers, start=1):
        lines += _layer_lines(layer, index, wheelhouse)
    return "\n".join(lines) + "\n"


def write_context(
    image: Image,
    ctx: Path,
    flyte_jupyter_version: Optional[str] = None,
    *,
    wheelhouse: bool = False,
    local_flyte: bool = False,
) -> None:
    """Write the Dockerfile and copy every file a layer names into the build context `ctx`
    (the wheelhouses and the flyte-jupyter wheel are the builder's to fill)."""
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
    text = dockerfile_text(image, flyte_jupyter_version, wheelhouse=wheelhouse, local_flyte=local_flyte)
    (ctx / "Dockerfile").write_text(text)


def _from_wheels(index: int, args: List[str]) -> List[str]:
    where = f"{WHEELS_IN_IMAGE}/{index}"
    return [
        f"COPY {wheel_dir(index)}/ {where}/",
        f"RUN python -m pip install --no-index --find-links {where} " + " ".join(args),
    ]


def _layer_lines(layer: object, index: int = 0, wheelhouse: bool = False) -> List[str]:
    if isinstance(layer, AptPackages):
        pkgs = " ".join(shlex.quote(p) for p in layer.packages)
        return [
            "RUN apt-get update \\",
            f"    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends {pkgs} \\",
            "    && rm -rf /var/lib/apt/lists/*",
        ]
    if isinstance(layer, (PipPackages, UVScript)):
        packages = layer.packages if isinstance(layer, PipPackages) else layer.packages()
        if not packages:
            return [f"# {layer.script.name}: no dependencies beyond flyte-jupyter"]  # type: ignore[union-attr]
        quoted = [shlex.quote(p) for p in packages]
        if wheelhouse:  # index options were used on this machine; only the install flags stay
            return _from_wheels(index, [shlex.quote(a) for a in _install_args(layer)] + quoted)
        return ["RUN python -m pip install " + " ".join(_pip_args(layer) + quoted)]
    if isinstance(layer, Requirements):
        target = f"/tmp/{_context_path(layer)}"
        copy = f"COPY {_context_path(layer)} {target}"
        if wheelhouse:
            return [copy] + _from_wheels(index, [shlex.quote(a) for a in _install_args(layer)] + ["-r", target])
        return [copy, "RUN python -m pip install " + " ".join(_pip_args(layer) + ["-r", target])]
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


def _pip_options(layer: Union[PipPackages, Requirements, UVScript]) -> List[str]:
    """The layer's pip options as plain arguments (for a pip run on this machine)."""
    args: List[str] = []
    if layer.index_url:
        args += ["--index-url", layer.index_url]
    for url in layer.extra_index_urls:
        args += ["--extra-index-url", url]
    if layer.pre:
        args.append("--pre")
    if layer.extra_args:
        args += shlex.split(layer.extra_args)
    return args


def _install_args(layer: Union[PipPackages, Requirements, UVScript]) -> List[str]:
    """What of a layer's options still applies when installing from a wheelhouse: --pre and the
    extra arguments (say `--no-deps`); the index options were used when the wheels were fetched."""
    args = ["--pre"] if layer.pre else []
    return args + (shlex.split(layer.extra_args) if layer.extra_args else [])


def _pip_args(layer: Union[PipPackages, Requirements, UVScript]) -> List[str]:
    return [shlex.quote(a) for a in _pip_options(layer)]


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
