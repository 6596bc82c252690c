"""Turning image specs into something an action can run in, once per spec.

`resolve_images` is the one call the client makes before submitting a remote run: for every
environment's image it computes the content key, looks it up in the image cache and builds only on
a miss (one build per key even with concurrent callers, thanks to a per-key file lock), and returns
the `{Image.identifier: reference}` mapping that goes to the backend with the task specs and to every
action as `--image-cache`.

Builders (choose with `builder=` or `$FLYTE_JUPYTER_IMAGE_BUILDER`):

* "local" (default, the embedded backend's): a cached virtualenv per spec (`local_venv.py`).
* "docker": a generated Dockerfile built with `docker buildx` when the client has it, else
  `docker build` (BuildKit when the engine offers it), and pushed to a registry (`docker.py`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import time
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, Mapping, Optional, Protocol, Union

from flyte_jupyter._image import AUTO, Image, as_image
from flyte_jupyter._internal.imagebuild.cache import ImageCache, images_home
from flyte_jupyter.errors import ImageBuildError

ENV_BUILDER = "FLYTE_JUPYTER_IMAGE_BUILDER"
DEFAULT_BUILDER = "local"
LOCK_TIMEOUT_S = 3600.0  # the longest we wait for another process's build of the same spec


class ImageBuilder(Protocol):
    """What a builder provides. `check` must refuse unsupported specs before any work starts."""

    name: str

    def check(self, image: Image) -> None: ...

    def build(self, image: Image, key: str) -> str: ...

    def exists(self, reference: str) -> bool: ...


def builder_names() -> tuple:
    return ("local", "docker")


def get_builder(name: Optional[str] = None, *, home: Union[str, Path, None] = None) -> ImageBuilder:
    """A builder by name ("local" or "docker"); default from `$FLYTE_JUPYTER_IMAGE_BUILDER` or "local"."""
    if _builder_kind(name) == "local":
        from flyte_jupyter._internal.imagebuild.local_venv import LocalVenvBuilder

        return LocalVenvBuilder(home=home)
    from flyte_jupyter._internal.imagebuild.docker import DockerBuilder

    return DockerBuilder(home=home)


def _builder_kind(name: Optional[str]) -> str:
    """"local" or "docker" for a builder name (default as `get_builder`); an unknown name is refused."""
    chosen = (name or os.environ.get(ENV_BUILDER) or DEFAULT_BUILDER).strip().lower()
    if chosen in ("local", "venv", "local_venv"):
        return "local"
    if chosen == "docker":
        return "docker"
    raise ValueError(f"unknown image builder {chosen!r}: choose one of {', '.join(builder_names())}")


@dataclasses.dataclass(frozen=True)
class ResolvedImage:
    """The outcome of resolving one image: where it is, and whether this call built it."""

    identifier: str
    key: str
    reference: str
    builder: str
    built: bool


def resolve_image(
    image: Any,
    *,
    builder: Union[str, ImageBuilder, None] = None,
    cache: Optional[ImageCache] = None,
) -> Optional[ResolvedImage]:
    """Resolve one `image=` value; None for "auto" (run in the backend's own interpreter)."""
    img = as_image(image)
    if img is None:
        return None
    b = builder if builder is not None and not isinstance(builder, str) else get_builder(builder)
    c = cache or ImageCache(_home_of(b) / "cache.sqlite")
    b.check(img)
    key = img.cache_key()
    ref = c.get(key, b.name)
    if ref is not None and b.exists(ref):
        return ResolvedImage(img.identifier, key, ref, b.name, built=False)
    with _build_lock(_home_of(b) / "locks" / f"{b.name}-{key[:32]}.lock"):
        ref = c.get(key, b.name)  # another process may have built it while we waited
        if ref is not None and b.exists(ref):
            return ResolvedImage(img.identifier, key, ref, b.name, built=False)
        ref = b.build(img, key)
        c.record_build(key, b.name, ref, img.content_spec())
    return ResolvedImage(img.identifier, key, ref, b.name, built=True)


def resolve_images(
    images: Iterable[Any],
    *,
    builder: Union[str, ImageBuilder, None] = None,
    cache: Optional[ImageCache] = None,
) -> Dict[str, str]:
    """`{Image.identifier: reference}` for every non-"auto" image, building only what is missing.

    Every spec is checked against the builder before anything is built, so an unsupported spec
    fails the whole call up front instead of after minutes of building the others. Only "auto"
    images (most runs) make no builder: a builder name is still checked."""
    unique: Dict[str, Image] = {}
    for value in images:
        img = as_image(value)
        if img is not None:
            unique.setdefault(img.identifier, img)
    if not unique:
        if builder is None or isinstance(builder, str):
            _builder_kind(builder)
        return {}
    b = builder if builder is not None and not isinstance(builder, str) else get_builder(builder)
    for img in unique.values():
        b.check(img)
    return {ident: resolve_image(img, builder=b, cache=cache).reference for ident, img in unique.items()}  # type: ignore[union-attr]


ENV_KEY_PREFIX = "env:"


def image_reference(image: Any, mapping: Mapping[str, str], env_name: Optional[str] = None) -> str:
    """The built reference of `image` in an `--image-cache` mapping; "" for "auto".

    This is how an action that calls a task of another environment finds that task's image. The
    identifier is tried first; `env_name` (mappings made by `resolve_run_images` also carry
    "env:<name>" keys) covers declarations that differ inside an action, such as a source path
    computed from `__file__` of a module re-imported from the code bundle."""
    img = as_image(image)
    if img is None:
        return ""
    ref = mapping.get(img.identifier)
    if ref is None and env_name:
        ref = mapping.get(ENV_KEY_PREFIX + env_name)
    if ref is None:
        raise ImageBuildError(
            f"{img!r}{' of environment ' + repr(env_name) if env_name else ''} was not resolved before the "
            f"run started (identifier {img.identifier[:12]}); images are built by the client at submission: "
            "list the environment in depends_on of the calling task's environment"
        )
    return ref


def _home_of(builder: Any) -> Path:
    home = getattr(builder, "home", None)
    return Path(home) if home is not None else images_home()


@contextlib.contextmanager
def _build_lock(path: Path, timeout: float = LOCK_TIMEOUT_S) -> Iterator[None]:
    """An exclusive per-spec lock across processes, so concurrent resolutions build once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(str(path), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows: builds are not serialized across processes
            yield
            return
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise ImageBuildError(
                        f"waited {timeout:.0f}s for another build holding {path}; "
                        "if no build is running, delete that file and retry"
                    ) from None
                time.sleep(0.2)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


__all__ = [
    "AUTO",
    "ImageBuilder",
    "ResolvedImage",
    "get_builder",
    "image_reference",
    "resolve_image",
    "resolve_images",
]
