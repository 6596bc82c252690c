"""Images for one remote run: every environment the run can reach, resolved before submission.

The client calls `resolve_run_images(task)` once per submission. It finds the environments the run
may use: the task's own, their `depends_on` (as Flyte requires for deployment), and, for notebooks
where nobody writes `depends_on`, the environments of tasks the function body refers to by global
name (followed transitively). Each image is resolved (built only on a cache miss) and the result
carries both the mapping and its encoded form for the entrypoint's `--image-cache`.
"""

from __future__ import annotations

import dataclasses
import types
from typing import Any, Dict, Iterable, List, Optional, Union

from flyte_jupyter._image import as_image
from flyte_jupyter._internal.imagebuild import (
    ENV_KEY_PREFIX,
    ImageBuilder,
    image_reference,
    resolve_images,
)
from flyte_jupyter._internal.imagebuild.cache import (
    ImageCache,
    decode_image_cache,
    encode_image_cache,
)


@dataclasses.dataclass(frozen=True)
class RunImages:
    """The resolved images of a run: `mapping` (identifier -> reference) and `encoded` for
    `--image-cache`."""

    mapping: Dict[str, str]
    encoded: str

    def reference_for(self, env_or_task: Any) -> str:
        """The task spec's `image` field for a TaskEnvironment or a task: "" for "auto"."""
        return image_reference(_image_of(env_or_task), self.mapping, _env_name(env_or_task))


def resolve_run_images(
    task: Any,
    *,
    extra_environments: Iterable[Any] = (),
    builder: Union[str, ImageBuilder, None] = None,
    cache: Optional[ImageCache] = None,
) -> RunImages:
    """Resolve the image of every environment `task`'s run can reach (building only misses)."""
    envs = environments_for(task, extra_environments)
    mapping = resolve_images([env.image for env in envs], builder=builder, cache=cache)
    for env in envs:
        img = as_image(env.image)
        if img is not None:
            mapping[ENV_KEY_PREFIX + env.name] = mapping[img.identifier]
    return RunImages(mapping=mapping, encoded=encode_image_cache(mapping))


def reference_from_cache_arg(env_or_task: Any, image_cache_arg: Optional[str]) -> str:
    """Inside an action: the image reference of another environment's task, from `--image-cache`."""
    return image_reference(_image_of(env_or_task), decode_image_cache(image_cache_arg), _env_name(env_or_task))


def environments_for(task: Any, extra: Iterable[Any] = ()) -> List[Any]:
    """Environments reachable from `task` (a task or an environment), in discovery order."""
    found: Dict[int, Any] = {}
    seen_funcs: set = set()
    pending: List[Any] = [task, *extra]
    while pending:
        item = pending.pop(0)
        env = getattr(item, "env", None) if not _is_env(item) else item
        if env is not None and _is_env(env) and id(env) not in found:
            found[id(env)] = env
            pending.extend(getattr(env, "depends_on", []) or [])
            pending.extend(getattr(env, "tasks", {}).values() if isinstance(getattr(env, "tasks", None), dict) else [])
        func = getattr(item, "func", None)
        if func is not None and id(func) not in seen_funcs:
            seen_funcs.add(id(func))
            pending.extend(_referenced_tasks(func))
    return list(found.values())


def _is_env(value: Any) -> bool:
    return type(value).__name__ == "TaskEnvironment" and hasattr(value, "image")


def _env_name(env_or_task: Any) -> Optional[str]:
    env = env_or_task if _is_env(env_or_task) else getattr(env_or_task, "env", None)
    return getattr(env, "name", None)


def _image_of(env_or_task: Any) -> Any:
    if _is_env(env_or_task):
        return env_or_task.image
    env = getattr(env_or_task, "env", None)
    if env is not None:
        return env.image
    return getattr(env_or_task, "image", env_or_task)


def _referenced_tasks(func: Any) -> List[Any]:
    """Tasks the function's code names as globals (including in nested functions and lambdas)."""
    func = getattr(func, "__wrapped__", func)
    code = getattr(func, "__code__", None)
    globs = getattr(func, "__globals__", {})
    if code is None:
        return []
    names: set = set()
    stack = [code]
    while stack:
        c = stack.pop()
        names.update(c.co_names)
        stack.extend(k for k in c.co_consts if isinstance(k, types.CodeType))
    out = []
    for name in sorted(names):
        value = globs.get(name)
        if value is not None and hasattr(value, "func") and _is_env(getattr(value, "env", None)):
            out.append(value)
    return out
