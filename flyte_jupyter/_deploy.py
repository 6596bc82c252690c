"""`flyte.deploy` and `flyte.build_images` (Flyte 2's names).

`build_images(*envs)` builds (or finds in the image cache) the image of every environment given and
of the environments they depend on, with the builder runs use, and returns the lookup a deployment
would carry.

`deploy(*envs, version=None)` registers every task of the environments (and of those they depend
on) on the configured backend, in its project and domain, under one version: the code bundle
(uploaded once, content-addressed), the images (built when missing), each task's spec (interface,
resources, retries, timeouts, cache policy, plugin config) and typed interface, in one request the
backend stores whole or not at all. Without `version` the version is a digest of the bundle and the
images (what a run of the same code would get). A version is immutable: deploying it again with the
same code changes nothing (`DeployedTask.created` is False), with other code it is refused
(`flyte.errors.DeploymentError` naming the task, the version and both digests) and nothing is
stored. With `dry_run=True` it returns the plan and registers nothing. It needs a backend
(`flyte.init_from_config(...)`); in local mode it says so. `flyte.remote.Task.get(name,
version=...)` then finds a deployed task, and `flyte.run` on it runs the registered code.
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
    """One task of a deployment; once registered: its version, spec digest, when and by whom, and
    whether this deployment created that version (False: it was there with the same spec)."""

    name: str
    environment: str
    version: str | None = None
    digest: str = ""
    created_at: float = 0.0
    created_by: str = ""
    created: bool = False


@dataclasses.dataclass(frozen=True)
class Deployment:
    """One environment of a deployment (or of its plan): its tasks, and the version they are (or
    would be) registered under, in which project and domain."""

    environment: str
    tasks: tuple[DeployedTask, ...]
    version: str | None
    dry_run: bool = True
    project: str = ""
    domain: str = ""

    def summary_repr(self) -> str:
        names = ", ".join(t.name for t in self.tasks) or "no tasks"
        if self.dry_run:
            return f"environment {self.environment}: {names} (version {self.version or 'from the code bundle'})"
        made = sum(1 for t in self.tasks if t.created)
        return (f"environment {self.environment} in {self.project}/{self.domain}: {names} (version {self.version}; "
                f"{made} registered, {len(self.tasks) - made} unchanged)")


def _environments(envs: tuple[Any, ...]) -> list[Any]:
    """The environments given and, transitively, those they depend on (each once, in order)."""
    from flyte_jupyter._internal.deploy.package import environments

    try:
        return environments(envs)
    except TypeError as exc:
        raise TypeError(str(exc).replace("deploy takes", "deploy and build_images take")) from None


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


def _backend_client() -> Any:
    """The configured backend's client; deploying needs one (Flyte 2's deploy needs a remote too)."""
    import os

    from flyte_jupyter import _config

    if not _config.current().is_remote and not os.environ.get(_config.CONFIG_ENV):
        from flyte_jupyter.errors import NotSupportedHereError

        raise NotSupportedHereError(
            "flyte.deploy registers tasks on a backend, and none is configured (local mode): call "
            "flyte.init_from_config('DIR/client.yaml') first, or deploy from a terminal with "
            "`flyte-jupyter deploy FILE --project P --domain D --version V` (it uses the embedded backend). "
            "flyte.deploy(..., dry_run=True) shows the plan without one")
    from flyte_jupyter._internal.client.resolve import resolve_client

    return resolve_client()


async def deploy_environments(envs: list[Any], *, client: Any, project: str, domain: str,
                              version: str | None = None) -> list[Deployment]:
    """Register every task of `envs` (all the environments: dependencies resolved already) in
    project/domain on the client's backend; what `flyte.deploy` and `flyte-jupyter deploy` run."""
    import asyncio

    from flyte_jupyter._internal.deploy.package import build_package
    from flyte_jupyter._internal.deploy.register import register_package
    from flyte_jupyter.errors import BackendError, DeploymentError

    package = await asyncio.get_running_loop().run_in_executor(None, build_package, envs)
    try:
        done = await register_package(client, package, project=project, domain=domain, version=version)
    except BackendError as exc:
        raise DeploymentError(f"deploying {', '.join(e.name for e in envs)} to {project}/{domain} failed "
                              f"({exc.code}): {exc.message}", code=exc.code) from None
    by_name = {d.name: d for d in done}
    used = done[0].version if done else (version or package.message.default_version)
    out = []
    for env in envs:
        tasks = tuple(DeployedTask(name, env.name, d.version, d.digest, d.created_at, d.created_by, d.created)
                      for name in env.tasks if (d := by_name.get(name)) is not None)
        out.append(Deployment(env.name, tasks, used, False, project, domain))
    return out


class _Deploy:
    def __call__(self, *envs: Any, dry_run: bool = False, version: str | None = None,
                 interactive_mode: bool | None = None, copy_style: str = "loaded_modules",
                 dryrun: bool | None = None) -> list[Deployment]:
        """Register the environments' tasks on the configured backend under one version (see the
        module docstring), or with `dry_run=True` return the plan and register nothing.
        `interactive_mode` and `copy_style` are accepted for Flyte's signature: what a bundle holds
        follows from where the tasks are defined (a module: its source tree; a notebook or
        `__main__`: a pickle of the tasks)."""
        from flyte_jupyter._internal.client.calls import call

        plan = self._plan(envs, version, bool(dry_run or dryrun))
        if plan is not None:
            return plan
        client = _backend_client()
        cfg = _current_config()
        all_envs = _environments(envs)
        return call(lambda: deploy_environments(all_envs, client=client, project=cfg.project, domain=cfg.domain,
                                                version=version))

    async def aio(self, *envs: Any, dry_run: bool = False, version: str | None = None,
                  interactive_mode: bool | None = None, copy_style: str = "loaded_modules",
                  dryrun: bool | None = None) -> list[Deployment]:
        from flyte_jupyter._internal.client.calls import acall

        plan = self._plan(envs, version, bool(dry_run or dryrun))
        if plan is not None:
            return plan
        client = _backend_client()
        cfg = _current_config()
        all_envs = _environments(envs)
        return await acall(lambda: deploy_environments(all_envs, client=client, project=cfg.project,
                                                       domain=cfg.domain, version=version))

    @staticmethod
    def _plan(envs: tuple[Any, ...], version: str | None, dry: bool) -> list[Deployment] | None:
        if not envs:
            raise TypeError("deploy needs at least one TaskEnvironment")
        plan = [Deployment(env.name, tuple(DeployedTask(t, env.name, version) for t in env.tasks), version, True)
                for env in _environments(envs)]
        return plan if dry else None


def _current_config() -> Any:
    from flyte_jupyter import _config

    return _config.current()


build_images = _BuildImages()
deploy = _Deploy()

__all__ = ["DeployedTask", "Deployment", "ImageCache", "build_images", "deploy", "deploy_environments"]
