"""The local builder: one cached virtualenv per image spec, for the embedded local-process backend.

A venv is made with `--system-site-packages` (and `--without-pip`: the interpreter's own pip,
visible through the system site, installs into it), so flyte_jupyter and everything it needs stay
importable without being reinstalled, and each image only adds its own packages on top. This is a
cheap, fast stand-in for a container; it cannot install system packages, run arbitrary build
commands or change the base OS, and says so instead of pretending.

Layout under `<images home>/venvs/`:

    <key[:24]>/                the venv (`bin/python`), the reference recorded in the image cache
    <key[:24]>/flyte-image.json  marker: key, spec, env vars, python; written last, so a venv
                                 without it is never used
    .tmp-<key[:24]>-<pid>-<n>/  a build in progress; renamed into place only on success

The backend asks `runtime_for_reference(reference)` which interpreter and env vars to use.
"""

from __future__ import annotations

import itertools
import json
import os
import shlex
import shutil
import subprocess
import sys
import sysconfig
import time
from pathlib import Path
from typing import Dict, List, Union

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
    iter_folder,
)
from flyte_jupyter._internal.imagebuild.cache import images_home
from flyte_jupyter._internal.runtime.process import pid_exists
from flyte_jupyter._internal.runtime.venv_image import MARKER, bin_dir, python_of
from flyte_jupyter.errors import ImageBuildError, UnsupportedImageError

PIP_TIMEOUT_S = 1800.0
_DOCKER_HINT = "build it with the Docker builder instead: `flyte-jupyter image build FILE --builder docker`"
_counter = itertools.count()


class LocalVenvBuilder:
    """Builds image specs into cached virtualenvs of the current interpreter."""

    name = "local"

    def __init__(self, home: Union[str, Path, None] = None) -> None:
        self.home = Path(home) if home is not None else images_home()

    @property
    def venvs(self) -> Path:
        return self.home / "venvs"

    # -- checks --------------------------------------------------------------------------------

    def check(self, image: Image) -> None:
        """Refuse, with the reason and the fix, every spec a venv cannot reproduce."""
        if image.dockerfile is not None:
            raise UnsupportedImageError(
                f"{image!r} is built from the Dockerfile {image.dockerfile}, which a local virtualenv "
                f"cannot run; {_DOCKER_HINT}"
            )
        if not image.debian_base:
            raise UnsupportedImageError(
                f"{image!r} starts from the custom base image {image.base_image!r}; a local virtualenv "
                f"can only extend this interpreter (use Image.from_debian_base()), or {_DOCKER_HINT}"
            )
        here = (sys.version_info[0], sys.version_info[1])
        if tuple(image.python_version) != here:
            want = "%d.%d" % tuple(image.python_version)
            raise UnsupportedImageError(
                f"{image!r} asks for Python {want} but the local builder makes virtualenvs of this "
                f"interpreter, Python {here[0]}.{here[1]} ({sys.executable}); drop python_version= "
                f"(it defaults to the current one), run under Python {want}, or {_DOCKER_HINT}"
            )
        for i, layer in enumerate(image.layers):
            if isinstance(layer, AptPackages):
                raise UnsupportedImageError(
                    f"layer {i} of {image!r}: with_apt_packages({', '.join(map(repr, layer.packages))}) "
                    f"needs a container image; a local virtualenv cannot install system packages; {_DOCKER_HINT}"
                )
            if isinstance(layer, Commands):
                raise UnsupportedImageError(
                    f"layer {i} of {image!r}: with_commands({list(layer.commands)!r}) runs shell commands "
                    f"at image build time, which a local virtualenv cannot do; {_DOCKER_HINT}"
                )
            if isinstance(layer, (SourceFolder, SourceFile)) and os.path.isabs(layer.dst):
                raise UnsupportedImageError(
                    f"layer {i} of {image!r}: {layer.kind} with the absolute destination {layer.dst!r}; "
                    "in a local virtualenv sources land under its own working folder, so give a relative "
                    f"dst, or {_DOCKER_HINT}"
                )

    def exists(self, reference: str) -> bool:
        """Built and still runnable: the marker is there and the venv's python still resolves
        (an upgraded or removed base interpreter leaves a dangling link: rebuild then)."""
        venv = Path(reference)
        return (venv / MARKER).is_file() and python_of(venv).exists()

    # -- build ---------------------------------------------------------------------------------

    def build(self, image: Image, key: str) -> str:
        """Create the venv in a temporary folder, install every layer, then rename it into place."""
        self.check(image)
        final = self.venvs / key[:24]
        tmp = self.venvs / f".tmp-{key[:24]}-{os.getpid()}-{next(_counter)}"
        self.venvs.mkdir(parents=True, exist_ok=True)
        self._remove_dead_builds(key)
        try:
            self._create(tmp)
            if any(isinstance(layer, (PipPackages, Requirements, UVScript)) for layer in image.layers):
                self._ensure_pip(tmp)
            env_vars: Dict[str, str] = {}
            has_sources = False
            for i, layer in enumerate(image.layers):
                if isinstance(layer, PipPackages):
                    self._pip(tmp, i, image, _pip_options(layer) + list(layer.packages))
                elif isinstance(layer, Requirements):
                    req = layer.file.resolve()
                    if not req.is_file():
                        raise ImageBuildError(f"layer {i} of {image!r}: requirements file {layer.file} does not exist")
                    self._pip(tmp, i, image, _pip_options(layer) + ["-r", str(req)])
                elif isinstance(layer, UVScript):
                    packages = list(layer.packages())
                    if packages:  # a script may need nothing beyond flyte-jupyter
                        self._pip(tmp, i, image, _pip_options(layer) + packages)
                elif isinstance(layer, EnvVars):
                    env_vars.update(layer.as_dict())
                elif isinstance(layer, SourceFolder):
                    _copy_folder(layer.src, _workdir(tmp) / layer.dst)
                    has_sources = True
                elif isinstance(layer, SourceFile):
                    dst = _workdir(tmp) / layer.dst
                    target = dst / layer.src.name if layer.dst.endswith(("/", ".")) or dst.is_dir() else dst
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(layer.src, target)
                    has_sources = True
                elif isinstance(layer, WorkDir):
                    pass  # the executor chooses the action's working folder; sources go under workdir/
            if has_sources:
                # relative to site-packages, so the venv stays valid after the rename
                site = _site_packages(tmp)
                (site / "_flyte_image_workdir.pth").write_text(os.path.relpath(_workdir(tmp), site) + "\n")
            meta = {
                "key": key,
                "identifier": image.identifier,
                "spec": image.declaration(),
                "env_vars": env_vars,
                "python": list(image.python_version),
                "base_interpreter": sys.executable,
                "created_at": time.time(),
            }
            _relocate_scripts(tmp, final)
            (tmp / (MARKER + ".tmp")).write_text(json.dumps(meta, indent=2, sort_keys=True))
            os.replace(tmp / (MARKER + ".tmp"), tmp / MARKER)
            if final.exists():  # a leftover without marker (crash) or a pruned entry: replace it
                shutil.rmtree(final)
            os.rename(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return str(final)

    def _remove_dead_builds(self, key: str) -> None:
        """Delete temporary folders left by builds of `key` whose process died (a crash, SIGKILL)."""
        for leftover in self.venvs.glob(f".tmp-{key[:24]}-*"):
            try:
                pid = int(leftover.name.split("-")[2])
            except (IndexError, ValueError):
                continue
            if not pid_exists(pid):
                shutil.rmtree(leftover, ignore_errors=True)

    def _create(self, path: Path) -> None:
        cmd = [sys.executable, "-m", "venv", "--without-pip", "--system-site-packages", str(path)]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        if proc.returncode != 0:
            raise ImageBuildError(f"creating a virtualenv failed: {' '.join(cmd)}\n{proc.stderr.strip()}")
        parent_sites = _creator_site_dirs()
        if parent_sites:
            # this interpreter is itself a venv: make its packages (flyte_jupyter) visible too
            lines = [f"import site; site.addsitedir({d!r})" for d in parent_sites]
            (_site_packages(path) / "_flyte_image_parent.pth").write_text("\n".join(lines) + "\n")

    def _ensure_pip(self, venv: Path) -> None:
        """Use the interpreter's pip through the system site; bootstrap one only if there is none."""
        python = str(python_of(venv))
        probe = subprocess.run([python, "-m", "pip", "--version"], capture_output=True, timeout=120)
        if probe.returncode == 0:
            return
        boot = subprocess.run([python, "-m", "ensurepip", "--default-pip"], capture_output=True, text=True, timeout=600)
        if boot.returncode != 0:
            raise ImageBuildError(
                f"this interpreter ({sys.executable}) has no pip, and ensurepip failed:\n{boot.stderr.strip()[-2000:]}"
            )

    def _pip(self, venv: Path, index: int, image: Image, args: List[str]) -> None:
        cmd = [str(python_of(venv)), "-m", "pip", "install", "--disable-pip-version-check", "--no-input", *args]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=PIP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise ImageBuildError(f"layer {index} of {image!r}: pip did not finish in {PIP_TIMEOUT_S:.0f}s") from None
        if proc.returncode != 0:
            tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
            raise ImageBuildError(
                f"layer {index} of {image!r}: `pip install {shlex.join(args)}` failed (exit {proc.returncode}):\n{tail}"
            )

    # -- maintenance -----------------------------------------------------------------------------

    def remove(self, reference: str) -> None:
        """Delete a built venv (rename first, so a concurrent reader never sees half of one)."""
        path = Path(reference)
        if not path.exists() or path.parent != self.venvs:
            return
        doomed = self.venvs / f".del-{path.name}-{os.getpid()}-{next(_counter)}"
        os.rename(path, doomed)
        shutil.rmtree(doomed, ignore_errors=True)

    def leftovers(self) -> List[Path]:
        """Folders of crashed builds or deletions, and venvs without a marker."""
        if not self.venvs.is_dir():
            return []
        return sorted(
            p for p in self.venvs.iterdir()
            if p.is_dir() and (p.name.startswith((".tmp-", ".del-")) or not (p / MARKER).is_file())
        )


# ----------------------------------------------------------------------------------------- helpers


def _site_packages(venv: Path) -> Path:
    if os.name == "nt":
        return venv / "Lib" / "site-packages"
    return venv / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" / "site-packages"


def _workdir(venv: Path) -> Path:
    return venv / "workdir"


def _pip_options(layer: Union[PipPackages, Requirements, UVScript]) -> List[str]:
    opts: List[str] = []
    if layer.index_url:
        opts += ["--index-url", layer.index_url]
    for url in layer.extra_index_urls:
        opts += ["--extra-index-url", url]
    if layer.pre:
        opts.append("--pre")
    if layer.extra_args:
        opts += shlex.split(layer.extra_args)
    return opts


def _copy_folder(src: Path, dst: Path) -> None:
    for rel, full in iter_folder(src):
        target = dst / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(full, target)


def _creator_site_dirs() -> List[str]:
    """Site dirs of the running interpreter when it is a venv (else the system site covers it)."""
    if sys.prefix == sys.base_prefix:
        return []
    paths = sysconfig.get_paths()
    return sorted({paths["purelib"], paths["platlib"]})


def _relocate_scripts(tmp: Path, final: Path) -> None:
    """Point scripts written during the build (shebangs, activate) at the final location."""
    old, new = str(tmp).encode(), str(final).encode()
    bindir = tmp / bin_dir()
    for script in bindir.iterdir() if bindir.is_dir() else ():
        if script.is_symlink() or not script.is_file():
            continue
        data = script.read_bytes()
        if old in data:
            script.write_bytes(data.replace(old, new))
