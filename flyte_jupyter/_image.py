"""Image specs: what an action runs in, declared in Python and hashed into a stable cache key.

The builder API follows Flyte 2's `flyte.Image` name for name: start from a `from_*` constructor,
add layers with `with_*` methods; every call returns a new, immutable `Image`, so one base can be
shared by many environments without side effects.

Two identities, on purpose:

* `Image.identifier` hashes the declaration only (paths as written, no file reads). It is cheap and
  computable anywhere the user's module can be imported, including inside an action where the
  requirements file or source folder may not exist. The `--image-cache` mapping handed to every
  action is keyed by it, so an action finds the built image of another environment without building.
* `Image.cache_key()` hashes the declaration plus the *contents* of every file it names
  (requirements files, source files and folders). A changed file is a new image; the persistent
  image cache is keyed by it, so a rebuilt requirements file is never served a stale build.

`"auto"` (the `TaskEnvironment` default) is not an `Image`: it means "the interpreter the backend
itself runs", and nothing is built for it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Tuple, Union

from flyte_jupyter.errors import (
    ImageBuildError,
)

AUTO = "auto"
SPEC_VERSION = 1  # bump when the canonical form changes, so old cache entries are not reused
DEFAULT_NAME = "flyte-jupyter"
_SKIP_DIRS = frozenset({"__pycache__", ".git", ".hg", ".svn", ".ipynb_checkpoints", ".venv", "node_modules"})
_SKIP_SUFFIXES = (".pyc", ".pyo")








# ---------------------------------------------------------------------------------------- layers


@dataclasses.dataclass(frozen=True)
class Layer:
    """One step on top of the base. `declaration()` is the path-only form; `content()` adds hashes."""

    kind = "layer"

    def declaration(self) -> Dict[str, Any]:
        out: Dict[str, Any] = {"kind": self.kind}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            out[f.name] = _jsonable(value)
        return out

    def content(self) -> Dict[str, Any]:
        return self.declaration()


@dataclasses.dataclass(frozen=True)
class PipPackages(Layer):
    packages: Tuple[str, ...]
    index_url: Optional[str] = None
    extra_index_urls: Tuple[str, ...] = ()
    pre: bool = False
    extra_args: Optional[str] = None
    kind = "pip"


@dataclasses.dataclass(frozen=True)
class Requirements(Layer):
    file: Path
    index_url: Optional[str] = None
    extra_index_urls: Tuple[str, ...] = ()
    pre: bool = False
    extra_args: Optional[str] = None
    kind = "requirements"

    def declaration(self) -> Dict[str, Any]:
        out = super().declaration()
        out["file"] = str(self.file)
        return out

    def content(self) -> Dict[str, Any]:
        out = super().declaration()
        out["file"] = self.file.name
        out["sha256"] = file_sha256(self.file)
        return out


@dataclasses.dataclass(frozen=True)
class AptPackages(Layer):
    packages: Tuple[str, ...]
    kind = "apt"


@dataclasses.dataclass(frozen=True)
class EnvVars(Layer):
    items: Tuple[Tuple[str, str], ...]
    kind = "env"

    def as_dict(self) -> Dict[str, str]:
        return dict(self.items)


@dataclasses.dataclass(frozen=True)
class Commands(Layer):
    commands: Tuple[str, ...]
    kind = "commands"


@dataclasses.dataclass(frozen=True)
class WorkDir(Layer):
    path: str
    kind = "workdir"


@dataclasses.dataclass(frozen=True)
class SourceFolder(Layer):
    src: Path
    dst: str = "."
    kind = "source_folder"

    def declaration(self) -> Dict[str, Any]:
        return {"kind": self.kind, "src": str(self.src), "dst": self.dst}

    def content(self) -> Dict[str, Any]:
        return {"kind": self.kind, "src": self.src.name, "dst": self.dst, "sha256": folder_sha256(self.src)}


@dataclasses.dataclass(frozen=True)
class SourceFile(Layer):
    src: Path
    dst: str = "."
    kind = "source_file"

    def declaration(self) -> Dict[str, Any]:
        return {"kind": self.kind, "src": str(self.src), "dst": self.dst}

    def content(self) -> Dict[str, Any]:
        return {"kind": self.kind, "src": self.src.name, "dst": self.dst, "sha256": file_sha256(self.src)}


@dataclasses.dataclass(frozen=True)
class UVScript(Layer):
    """The dependencies a PEP 723 script names in its `# /// script` block, pip-installed.

    The declaration names the script's path; the content is the parsed block (dependencies and
    requires-python), so editing the script's code does not change the image, editing its
    dependencies does."""

    script: Path
    index_url: Optional[str] = None
    extra_index_urls: Tuple[str, ...] = ()
    pre: bool = False
    extra_args: Optional[str] = None
    kind = "uv_script"

    def declaration(self) -> Dict[str, Any]:
        out = super().declaration()
        out["script"] = str(self.script)
        return out

    def content(self) -> Dict[str, Any]:
        out = super().declaration()
        meta = read_script_metadata(self.script)
        out["script"] = self.script.name
        out["dependencies"] = list(meta.dependencies)
        out["requires_python"] = meta.requires_python
        return out

    def packages(self) -> Tuple[str, ...]:
        """The requirements to install (read from the script now)."""
        return read_script_metadata(self.script).dependencies


# ----------------------------------------------------------------------------------------- image


def _current_python() -> Tuple[int, int]:
    return (sys.version_info[0], sys.version_info[1])


_GUARD = object()
_FLYTE_ONLY = {
    "with_uv_project": "install the project's dependencies with with_requirements(...) or with_pip_packages(...)",
    "with_poetry_project": "export a requirements file and use with_requirements(...)",
    "with_pixi_project": "use with_pip_packages(...) (conda packages need a Docker base image)",
    "with_code_bundle": "the code bundle is shipped with every run; use with_source_folder(...) to bake code in",
    "with_dockerignore": "files are copied as listed; bytecode caches and VCS folders are skipped",
    "with_local_v2": "not needed: every flyte_jupyter image can run actions locally",
}


@dataclasses.dataclass(frozen=True)
class Image:
    """An immutable container/venv spec: a base plus an ordered tuple of layers.

    Create one with `from_debian_base`, `from_base` or `from_dockerfile`, then add layers with the
    `with_*` methods. Direct construction is refused so that every image has a well-defined base.
    `secret_mounts=` and `registry_secret=` are accepted so Flyte 2 code runs unchanged, and ignored:
    the local builder needs no secrets and Docker uses its own login.
    """

    base_image: Optional[str] = None
    dockerfile: Optional[Path] = None
    registry: Optional[str] = None
    name: Optional[str] = None
    platform: Tuple[str, ...] = ("linux/amd64",)
    python_version: Tuple[int, int] = dataclasses.field(default_factory=_current_python)
    extendable: bool = True
    install_flyte: bool = True
    flyte_version: Optional[str] = None
    debian_base: bool = False
    python_default: bool = False  # python_version was not given: "whatever runs the client"
    _layers: Tuple[Layer, ...] = ()
    _guard: Any = dataclasses.field(default=None, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        if self._guard is not _GUARD:
            raise TypeError(
                "Image cannot be constructed directly: start from Image.from_debian_base(), "
                "Image.from_base(uri) or Image.from_dockerfile(path, registry, name)"
            )
        object.__setattr__(self, "_guard", None)  # checked; keep no sentinel in copies and pickles

    # -- constructors ------------------------------------------------------------------------

    @classmethod
    def _new(cls, **kwargs: Any) -> "Image":
        return cls(_guard=_GUARD, **kwargs)

    @classmethod
    def from_debian_base(
        cls,
        python_version: Optional[Tuple[int, int]] = None,
        flyte_version: Optional[str] = None,
        install_flyte: bool = True,
        registry: Optional[str] = None,
        registry_secret: Optional[str] = None,
        name: Optional[str] = None,
        platform: Optional[Tuple[str, ...]] = None,
    ) -> "Image":
        """The standard base: slim Debian with CPython `python_version` (default: this interpreter's).

        On the local builder this is a virtualenv of the current interpreter, so `python_version`
        must match it; on Docker it is `python:X.Y-slim-bookworm` with flyte-jupyter installed.
        `registry_secret` is accepted for Flyte compatibility and ignored (Docker uses its own login).
        """
        pv = _check_python_version(python_version) if python_version is not None else _current_python()
        return cls._new(
            base_image=f"python:{pv[0]}.{pv[1]}-slim-bookworm",
            registry=registry,
            name=name,
            platform=_platform(platform),
            python_version=pv,
            python_default=python_version is None,
            install_flyte=install_flyte,
            flyte_version=flyte_version,
            debian_base=True,
        )

    @classmethod
    def from_base(cls, image_uri: str) -> "Image":
        """Any existing image by URI, e.g. "python:3.11-slim"; Docker builder only when layered."""
        if not isinstance(image_uri, str) or not image_uri.strip():
            raise ValueError(
                f"Image.from_base needs a full image URI such as 'python:3.11-slim', got {image_uri!r}"
            )
        return cls._new(base_image=image_uri.strip(), install_flyte=False)

    @classmethod
    def from_dockerfile(
        cls,
        file: Union[Path, str],
        registry: str,
        name: str,
        platform: Union[str, Tuple[str, ...], None] = None,
    ) -> "Image":
        """An image built from your own Dockerfile (context: its folder). Not extendable: the
        Dockerfile is not parsed, so `with_*` layers could not be placed correctly."""
        path = Path(file)
        if not name:
            raise ValueError("Image.from_dockerfile needs a name for the built image")
        return cls._new(
            dockerfile=path,
            registry=registry,
            name=name,
            platform=_platform(platform),
            extendable=False,
            install_flyte=False,
        )

    # -- layers ------------------------------------------------------------------------------

    def _with(self, layer: Layer) -> "Image":
        if not self.extendable:
            raise ImageBuildError(
                f"cannot add a {layer.kind!r} layer to an image built from the Dockerfile "
                f"{self.dockerfile}: put the step into the Dockerfile itself"
            )
        return dataclasses.replace(self, _layers=self._layers + (layer,), _guard=_GUARD)

    def with_pip_packages(
        self,
        *packages: str,
        index_url: Optional[str] = None,
        extra_index_urls: Union[str, List[str], Tuple[str, ...], None] = None,
        pre: bool = False,
        extra_args: Optional[str] = None,
        secret_mounts: Any = None,
    ) -> "Image":
        """pip-install `packages` (requirement specifiers) on top of this image."""
        pkgs = _strings(packages, "with_pip_packages")
        if not pkgs:
            raise ValueError("with_pip_packages needs at least one package")
        return self._with(PipPackages(pkgs, index_url, _as_tuple(extra_index_urls), bool(pre), extra_args))

    def with_requirements(
        self,
        file: Union[str, Path],
        index_url: Optional[str] = None,
        extra_index_urls: Union[str, List[str], Tuple[str, ...], None] = None,
        pre: bool = False,
        extra_args: Optional[str] = None,
        secret_mounts: Any = None,
    ) -> "Image":
        """pip-install a requirements file; its content is part of the cache key."""
        return self._with(Requirements(Path(file), index_url, _as_tuple(extra_index_urls), bool(pre), extra_args))

    def with_apt_packages(self, *packages: str, secret_mounts: Any = None) -> "Image":
        """apt-get install system packages (Docker builder only)."""
        pkgs = _strings(packages, "with_apt_packages")
        if not pkgs:
            raise ValueError("with_apt_packages needs at least one package")
        return self._with(AptPackages(pkgs))

    def with_env_vars(self, env_vars: Dict[str, str]) -> "Image":
        """Environment variables set in every action that runs in this image."""
        if not isinstance(env_vars, dict):
            raise TypeError(f"with_env_vars takes a dict of str to str, got {type(env_vars).__name__}")
        items = []
        for key, value in env_vars.items():
            if not isinstance(key, str) or not key or "=" in key:
                raise ValueError(f"with_env_vars: {key!r} is not a valid environment variable name")
            items.append((key, str(value)))
        return self._with(EnvVars(tuple(items)))

    def with_commands(self, commands: List[str], secret_mounts: Any = None) -> "Image":
        """Shell commands run at build time (Docker builder only)."""
        if isinstance(commands, str):
            commands = [commands]
        return self._with(Commands(_strings(commands, "with_commands")))

    def with_workdir(self, workdir: str) -> "Image":
        """The working directory of the image; relative source destinations are placed under it."""
        if not isinstance(workdir, str) or not workdir:
            raise ValueError(f"with_workdir needs a path, got {workdir!r}")
        return self._with(WorkDir(workdir))

    def with_source_folder(self, src: Union[Path, str], dst: str = ".", copy_contents_only: bool = False) -> "Image":
        """Copy a local folder into the image (importable from the working directory).

        As in Flyte, dst "." means "./<folder name>" unless `copy_contents_only` is set."""
        path = Path(src)
        if dst == "." and not copy_contents_only:
            dst = "./" + path.name
        return self._with(SourceFolder(path, dst))

    def with_source_file(self, src: Union[Path, str, List[Path]], dst: str = ".") -> "Image":
        """Copy local file(s) into the image's working directory (or `dst`)."""
        srcs = src if isinstance(src, (list, tuple)) else [src]
        image = self
        for one in srcs:
            image = image._with(SourceFile(Path(one), dst))
        return image

    def validate(self) -> None:
        """Check that every file the spec names exists (raises ImageBuildError naming the first
        missing one); builders call this implicitly when they hash the spec."""
        self.content_spec()

    def __getattr__(self, name: str) -> Any:
        if name in _FLYTE_ONLY:
            raise AttributeError(
                f"flyte_jupyter.Image does not support Flyte's {name}() yet: {_FLYTE_ONLY[name]}"
            )
        raise AttributeError(f"'Image' object has no attribute {name!r}")

    @classmethod
    def from_uv_script(
        cls,
        script: Union[Path, str],
        *,
        name: Optional[str] = None,
        registry: Optional[str] = None,
        registry_secret: Optional[str] = None,
        python_version: Optional[Tuple[int, int]] = None,
        index_url: Optional[str] = None,
        extra_index_urls: Union[str, List[str], Tuple[str, ...], None] = None,
        pre: bool = False,
        extra_args: Optional[str] = None,
        platform: Optional[Tuple[str, ...]] = None,
        secret_mounts: Any = None,
    ) -> "Image":
        """An image with the dependencies of a PEP 723 script (the `# /// script` block at its top:
        `dependencies = [...]`, `requires-python = "..."`), as Flyte 2's `from_uv_script`.

        The Debian base gets flyte-jupyter (so a `flyte` or `flyte-jupyter` dependency is left out)
        and pip installs the script's dependencies, with the index options given here; the local
        builder installs them into the cached virtualenv. The Python version is `python_version`,
        which must satisfy `requires-python`; without it, this interpreter's when it does, else the
        oldest of 3.10 to 3.14 that does (which only the Docker builder can make). The script is
        read now: it must exist (declare the dependencies with
        `Image.from_debian_base().with_pip_packages(...)` otherwise).
        """
        path = Path(script)
        meta = read_script_metadata(path)
        if python_version is not None:
            pv = _check_python_version(python_version)
            if meta.requires_python and not python_satisfies(meta.requires_python, pv + (99,)):
                raise ImageBuildError(
                    f"Image.from_uv_script({str(path)!r}): python_version {pv[0]}.{pv[1]} does not satisfy "
                    f"the script's requires-python {meta.requires_python!r}"
                )
        else:
            pv = _python_for(meta.requires_python, path)
        image = cls.from_debian_base(
            python_version=None if pv == _current_python() and python_version is None else pv,
            registry=registry,
            registry_secret=registry_secret,
            name=name,
            platform=platform,
        )
        return image._with(UVScript(path, index_url, _as_tuple(extra_index_urls), bool(pre), extra_args))

    @classmethod
    def from_ref_name(cls, name: str = "default") -> "Image":
        """Not supported: flyte_jupyter has no image references in its config; use from_base(uri)."""
        raise ImageBuildError(
            f"Image.from_ref_name({name!r}) is not supported by flyte_jupyter: pass the image URI with "
            "Image.from_base(uri) or a string image= on the TaskEnvironment"
        )

    # -- identity ----------------------------------------------------------------------------

    @property
    def layers(self) -> Tuple[Layer, ...]:
        return self._layers

    def _base(self) -> Dict[str, Any]:
        return {
            "v": SPEC_VERSION,
            "base_image": self.base_image,
            "debian_base": self.debian_base,
            "registry": self.registry,
            "name": self.name,
            "platform": list(self.platform),
            "python_version": list(self.python_version),
            "install_flyte": self.install_flyte,
            "flyte_version": self.flyte_version,
        }

    def declaration(self) -> Dict[str, Any]:
        """The spec as plain JSON data, with paths as written (no file is read).

        A defaulted python_version stays "default" here, so an action running under another
        interpreter (a container's) computes the same identifier as the client did."""
        spec = self._base()
        if self.python_default:
            spec["python_version"] = "default"
        spec["dockerfile"] = str(self.dockerfile) if self.dockerfile else None
        spec["layers"] = [layer.declaration() for layer in self._layers]
        return spec

    def content_spec(self) -> Dict[str, Any]:
        """The spec with every referenced file replaced by its content hash (reads the files)."""
        spec = self._base()
        spec["dockerfile"] = (
            {"name": self.dockerfile.name, "sha256": file_sha256(self.dockerfile)} if self.dockerfile else None
        )
        spec["layers"] = [layer.content() for layer in self._layers]
        if self.debian_base and self.install_flyte and self.flyte_version is None:
            # the flyte-jupyter running here goes into the image: a change to it is a new image
            from flyte_jupyter._internal.imagebuild.flyte_source import installed_flyte_digest

            spec["flyte_source"] = installed_flyte_digest()
        return spec

    @property
    def identifier(self) -> str:
        """Hash of the declaration: the key of the `--image-cache` mapping (no file reads)."""
        return _sha256_json(self.declaration())

    def cache_key(self) -> str:
        """Hash of the declaration and of every file's content: the key of the image cache."""
        return _sha256_json(self.content_spec())

    def env_vars(self) -> Dict[str, str]:
        """All env vars the layers set, later layers winning."""
        out: Dict[str, str] = {}
        for layer in self._layers:
            if isinstance(layer, EnvVars):
                out.update(layer.as_dict())
        return out

    @property
    def uri(self) -> str:
        """Where the Docker builder pushes this image: `<registry>/<name>:<tag>`, tag from the key.

        An unlayered `from_base` image is used as is, so its URI is the base URI."""
        if self.base_image and not self._layers and not self.debian_base:
            return self.base_image
        return self.uri_for(self.cache_key())

    def uri_for(self, key: str) -> str:
        """The URI for an already computed cache key (saves re-reading files)."""
        tag = key[:20]
        repo = self.name or DEFAULT_NAME
        return f"{self.registry.rstrip('/')}/{repo}:{tag}" if self.registry else f"{repo}:{tag}"

    def __repr__(self) -> str:
        base = f"dockerfile={str(self.dockerfile)!r}" if self.dockerfile else f"base={self.base_image!r}"
        kinds = ", ".join(layer.kind for layer in self._layers)
        return f"Image({base}, python={self.python_version[0]}.{self.python_version[1]}, layers=[{kinds}])"


# --------------------------------------------------------------------------------------- helpers


def as_image(value: Any) -> Optional[Image]:
    """What a TaskEnvironment's `image=` means: None for "auto"/None, an Image otherwise.

    A plain string other than "auto" is an existing image URI, as in Flyte (`Image.from_base`).
    """
    if value is None or value == AUTO:
        return None
    if isinstance(value, Image):
        return value
    if isinstance(value, str):
        return Image.from_base(value)
    raise TypeError(
        f"image must be 'auto', an image URI string or a flyte_jupyter.Image, got {type(value).__name__}"
    )


def file_sha256(path: Union[str, Path]) -> str:
    """sha256 of a file's bytes, with an error that names the missing file."""
    p = Path(path)
    try:
        with p.open("rb") as fh:
            return _hash_stream(fh)
    except FileNotFoundError:
        raise ImageBuildError(f"image spec names {p}, which does not exist (cwd: {os.getcwd()})") from None
    except IsADirectoryError:
        raise ImageBuildError(f"image spec names {p} as a file, but it is a folder: use with_source_folder") from None


def _hash_stream(fh: Any) -> str:
    h = hashlib.sha256()
    for chunk in iter(lambda: fh.read(1 << 20), b""):
        h.update(chunk)
    return h.hexdigest()


def iter_folder(root: Path) -> Iterable[Tuple[str, Path]]:
    """Files of a source folder in sorted order, as (posix relative path, path); caches skipped."""
    if not root.is_dir():
        raise ImageBuildError(f"image spec names the folder {root}, which does not exist (cwd: {os.getcwd()})")
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS)
        for fname in sorted(filenames):
            if fname.endswith(_SKIP_SUFFIXES):
                continue
            full = Path(dirpath) / fname
            yield full.relative_to(root).as_posix(), full


def folder_sha256(root: Union[str, Path]) -> str:
    """sha256 over a folder's relative paths and file contents (not its location or mtimes)."""
    h = hashlib.sha256()
    for rel, full in iter_folder(Path(root)):
        h.update(rel.encode() + b"\0" + file_sha256(full).encode() + b"\n")
    return h.hexdigest()


def _sha256_json(data: Any) -> str:
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()


def _jsonable(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    return value


def _strings(values: Iterable[Any], where: str) -> Tuple[str, ...]:
    out = []
    for v in values:
        if not isinstance(v, str) or not v.strip():
            raise ValueError(f"{where} takes non-empty strings, got {v!r}")
        out.append(v.strip())
    return tuple(out)


def _as_tuple(value: Union[str, List[str], Tuple[str, ...], None]) -> Tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(value)


def _platform(value: Union[str, Tuple[str, ...], None]) -> Tuple[str, ...]:
    if value is None:
        return ("linux/amd64",)
    return (value,) if isinstance(value, str) else tuple(value)


def _check_python_version(value: Any) -> Tuple[int, int]:
    if isinstance(value, str):
        parts = value.split(".")
        value = tuple(int(p) for p in parts[:2]) if len(parts) >= 2 and all(p.isdigit() for p in parts[:2]) else value
    if (
        not isinstance(value, tuple)
        or len(value) != 2
        or not all(isinstance(v, int) for v in value)
        or value[0] != 3
    ):
        raise ValueError(f"python_version must be a (3, minor) tuple such as (3, 11), got {value!r}")
    return value


# ----------------------------------------------------------------------------------- PEP 723 scripts


@dataclasses.dataclass(frozen=True)
class ScriptMetadata:
    """What a script's `# /// script` block says: requirements (flyte packages left out) and the
    Python it needs."""

    dependencies: Tuple[str, ...]
    requires_python: Optional[str]


_SUPPORTED_PYTHONS = tuple((3, minor) for minor in range(10, 15))
_PROVIDED = frozenset({"flyte", "flyte-jupyter"})  # the image has flyte-jupyter already


def read_script_metadata(path: Union[str, Path]) -> ScriptMetadata:
    """Parse the PEP 723 `script` block of a file (ImageBuildError naming what is wrong)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ImageBuildError(
            f"Image.from_uv_script: the script {p} does not exist (cwd: {os.getcwd()}); declare its "
            "dependencies with Image.from_debian_base().with_pip_packages(...) instead"
        ) from None
    except IsADirectoryError:
        raise ImageBuildError(f"Image.from_uv_script: {p} is a folder, not a script") from None
    block = _script_block(text, p)
    try:
        import tomllib  # type: ignore[import-not-found,unused-ignore]
    except ImportError:  # Python 3.10
        try:
            import tomli as tomllib  # type: ignore[import-not-found,no-redef,unused-ignore]
        except ImportError:
            raise ImageBuildError(
                "reading a script's `# /// script` block on Python 3.10 needs tomli: pip install tomli"
            ) from None
    try:
        data = tomllib.loads(block)
    except Exception as exc:
        raise ImageBuildError(f"the `# /// script` block of {p} is not valid TOML: {exc}") from None
    deps = data.get("dependencies", [])
    if not isinstance(deps, list) or not all(isinstance(d, str) for d in deps):
        raise ImageBuildError(f"`dependencies` in the `# /// script` block of {p} must be a list of strings")
    requires = data.get("requires-python")
    if requires is not None and not isinstance(requires, str):
        raise ImageBuildError(f"`requires-python` in the `# /// script` block of {p} must be a string")
    kept = tuple(d.strip() for d in deps if d.strip() and _requirement_name(d) not in _PROVIDED)
    return ScriptMetadata(kept, requires.strip() if requires else None)


def _script_block(text: str, path: Path) -> str:
    """The TOML of the `# /// script` block (PEP 723: `#`-prefixed lines up to `# ///`)."""
    lines = text.splitlines()
    start = None
    for i, line in enumerate(lines):
        if line.rstrip() == "# /// script":
            if start is not None:
                raise ImageBuildError(f"{path} has more than one `# /// script` block")
            start = i
    if start is None:
        raise ImageBuildError(
            f"{path} has no `# /// script` block (PEP 723) naming its dependencies, e.g.\n"
            '# /// script\n# dependencies = ["pandas"]\n# ///'
        )
    body: List[str] = []
    for line in lines[start + 1:]:
        if line.rstrip() == "# ///":
            return "\n".join(body)
        if line == "#" or line.startswith("# "):
            body.append(line[2:])
        else:
            break
    raise ImageBuildError(f"the `# /// script` block of {path} is not closed by a `# ///` line")


def _requirement_name(req: str) -> str:
    import re

    m = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", req)
    return re.sub(r"[-_.]+", "-", m.group(1)).lower() if m else ""


def python_satisfies(spec: str, version: Tuple[int, ...]) -> bool:
    """Whether a Python version (major, minor, micro) meets a requires-python specifier such as
    ">=3.10,<3.13", "~=3.11" or "==3.12.*"."""
    import re

    def pad(parts: Tuple[int, ...]) -> Tuple[int, ...]:
        return tuple(parts[:3]) + (0,) * (3 - len(parts[:3]))

    have = pad(tuple(version))
    for clause in spec.split(","):
        clause = clause.strip()
        if not clause:
            continue
        m = re.fullmatch(r"(~=|===|==|!=|<=|>=|<|>)\s*v?([0-9]+(?:\.[0-9]+)*)(\.\*)?", clause)
        if m is None:
            raise ImageBuildError(f"cannot read the requires-python specifier {spec!r} (at {clause!r})")
        op, text, star = m.groups()
        want = tuple(int(x) for x in text.split("."))
        if star and op not in ("==", "!="):
            raise ImageBuildError(f"requires-python {spec!r}: a wildcard goes only with == or !=")
        if star:
            ok = have[: len(want)] == want
            ok = ok if op == "==" else not ok
        elif op in ("==", "==="):
            ok = have == pad(want)
        elif op == "!=":
            ok = have != pad(want)
        elif op == "~=":
            if len(want) < 2:
                raise ImageBuildError(f"requires-python {spec!r}: ~= needs at least two version parts")
            ok = have >= pad(want) and have[: len(want) - 1] == want[:-1]
        elif op == ">=":
            ok = have >= pad(want)
        elif op == "<=":
            ok = have <= pad(want)
        elif op == ">":
            ok = have > pad(want)
        else:
            ok = have < pad(want)
        if not ok:
            return False
    return True


def _python_for(requires: Optional[str], path: Path) -> Tuple[int, int]:
    here = _current_python()
    if not requires or python_satisfies(requires, tuple(sys.version_info[:3])):
        return here
    for candidate in _SUPPORTED_PYTHONS:
        if python_satisfies(requires, candidate + (99,)):
            return candidate
    raise ImageBuildError(f"no Python from 3.10 to 3.14 satisfies requires-python {requires!r} of {path}")

