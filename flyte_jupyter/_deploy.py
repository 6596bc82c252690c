"""`flyte.deploy` and `flyte.build_images` (Flyte 2's names).

`build_images(*envs)` builds (or finds in the image cache) the image of every environment given and
of the environments they depend on, with the builder runs use, and returns the lookup a deployment
would carry. `deploy(*envs)` plans a deployment: with `dry_run=True` it returns the plan (which
environments and tasks, at which version); registering it on the backend needs a registration API
the backend does not have yet, so without `dry_run` it raises an error that says so.
"""

from __future__ import annotations

import dataclasses
from typing import Any


@dataclasses.dataclass(frozen=True)
class ImageCache:
    """What `build_images` returns: `image_lookup` maps each image's identifier (and each
    environment, as `env:NAME`) to the reference actions run in; `to_transport` is its encoded
    form (what an action's `--image-cache` carries)."""

    image_lookup: dict[str, str]
    to_transport: str


@dataclasses.dataclass(frozen=True)
class DeployedTask:
    name: str
    environment: str


@dataclasses.dataclass(frozen=True)
class Deployment:
    """One environment of a deployment plan: its tasks, and the version they would be registered under."""

    environment: str
    tasks: tuple[DeployedTask, ...]
    version: str | None
    dry_run: bool = True

    def summary_repr(self) -> str:
        names = ", ".join(t.name for t in self.tasks) or "no tasks"
        return f"environment {self.environment}: {names} (version {self.version or 'from the code bundle'})"


def _environments(envs: tuple[Any, ...]) -> list[Any]:
    """The environments given and, transitively, those they depend on (each once, in order)."""
    from flyte_jupyter._environment import TaskEnvironment

    seen: dict[int, Any] = {}
    pending = list(envs)
    while pending:
        env = pending.pop(0)
        if not isinstance(env, TaskEnvironment):
            raise TypeError(f"deploy and build_images take TaskEnvironment objects, got {type(env).__name__}")
        if id(env) in seen:
            continue
        seen[id(env)] = env
        pending.extend(env.depends_on)
    return list(seen.values())


class _BuildImages:
    def __call__(self, *envs: Any, copy_style: str = "loaded_modules", seed_cache: Any = None) -> ImageCache:
        """Build the images of these environments (and those they depend on); a cached image is
        not built again. `copy_style` and `seed_cache` are accepted for Flyte's signature."""
        if not envs:
            raise TypeError("build_images needs at least one TaskEnvironment")
        from flyte_jupyter._internal.imagebuild.for_run import resolve_run_images

        all_envs = _environments(envs)
        images = resolve_run_images(all_envs[0], extra_environments=all_envs[1:])
        return ImageCache(image_lookup=dict(images.mapping), to_transport=images.encoded)

    async def aio(self, *envs: Any, copy_style: str = "loaded_modules", seed_cache: Any = None) -> ImageCache:
        import asyncio

        return await asyncio.to_thread(self, *envs, copy_style=copy_style, seed_cache=seed_cache)


class _Deploy:
    def __call__(self, *envs: Any, dry_run: bool = False, version: str | None = None,
                 interactive_mode: bool | None = None, copy_style: str = "loaded_modules",
                 dryrun: bool | None = None) -> list[Deployment]:
        """Plan (dry_run=True) or register the environments' tasks. Registration is not there yet:
        without dry_run this raises `NotSupportedHereError` naming the gap."""
        if not envs:
            raise TypeError("deploy needs at least one TaskEnvironment")
        dry = bool(dry_run or dryrun)
        plan = [Deployment(env.name, tuple(DeployedTask(t, env.name) for t in env.tasks), version, dry)
                for env in _environments(envs)]
        if dry:
            return plan
        from flyte_jupyter.errors import NotSupportedHereError

        raise NotSupportedHereError(
            "flyte.deploy needs the backend to register tasks ahead of a run (project, domain, name, "
            "version -> spec, bundle and image), which flyte-jupyter's backend does not offer yet. "
            "Use flyte.deploy(..., dry_run=True) to see the plan, and flyte.run(task, ...) to run: every "
            "run ships its own code")

    async def aio(self, *envs: Any, **options: Any) -> list[Deployment]:
        return self(*envs, **options)


build_images = _BuildImages()
deploy = _Deploy()

__all__ = ["Deployment", "ImageCache", "build_images", "deploy"]
