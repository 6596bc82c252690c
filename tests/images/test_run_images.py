"""Resolving the images of a whole run before submission, and finding them again inside an action."""

from __future__ import annotations

from pathlib import Path

import flyte_jupyter as flyte
from flyte_jupyter._internal.imagebuild.cache import ImageCache
from flyte_jupyter._internal.imagebuild.for_run import (
    environments_for,
    reference_from_cache_arg,
    resolve_run_images,
)
from flyte_jupyter._internal.imagebuild.local_venv import LocalVenvBuilder
from flyte_jupyter._internal.runtime.venv_image import runtime_for_reference

env_a = flyte.TaskEnvironment(name="img_env_a", image=flyte.Image.from_debian_base().with_env_vars({"WHO": "a"}))
env_b = flyte.TaskEnvironment(name="img_env_b", image=flyte.Image.from_debian_base().with_env_vars({"WHO": "b"}))
env_c = flyte.TaskEnvironment(name="img_env_c")  # "auto"
env_d = flyte.TaskEnvironment(name="img_env_d", image=flyte.Image.from_debian_base().with_env_vars({"WHO": "d"}))
env_unused = flyte.TaskEnvironment(name="img_env_unused", image=flyte.Image.from_debian_base().with_env_vars({"WHO": "x"}))
env_a.add_dependency(env_d)


@env_b.task
def task_b(x: int) -> int:
    return x


@env_c.task
def task_c(x: int) -> int:
    return x


@env_a.task
def task_a(x: int) -> int:
    return task_b(x) + (lambda: task_c(x))()


def test_environments_reachable_from_a_task() -> None:
    names = [env.name for env in environments_for(task_a)]
    assert names[0] == "img_env_a"
    assert set(names) == {"img_env_a", "img_env_b", "img_env_c", "img_env_d"}


def test_run_images_resolve_once_and_travel_as_image_cache(fresh_home: Path) -> None:
    builder = LocalVenvBuilder(fresh_home)
    images = resolve_run_images(task_a, builder=builder)
    assert len(set(images.mapping.values())) == 3  # a, b, d; c is "auto"
    assert images.mapping["env:img_env_b"] == images.reference_for(task_b)
    assert images.reference_for(env_c) == "" and images.reference_for(task_c) == ""
    ref_b = images.reference_for(task_b)
    assert runtime_for_reference(ref_b).env_vars == {"WHO": "b"}
    # inside an action of env_a: the image of env_b's task comes from the --image-cache argument
    assert reference_from_cache_arg(task_b, images.encoded) == ref_b
    assert reference_from_cache_arg(env_d, images.encoded) == images.reference_for(env_d)

    again = resolve_run_images(task_a, builder=builder)
    assert again == images
    assert ImageCache(fresh_home / "cache.sqlite").build_count() == 3


def test_an_action_finds_an_image_declared_differently_by_environment_name(fresh_home: Path) -> None:
    images = resolve_run_images(task_a, builder=LocalVenvBuilder(fresh_home))
    # inside an action the module is re-imported elsewhere: same environment, another declaration
    moved = flyte.TaskEnvironment(name="img_env_b", image=env_b.image.with_workdir("/elsewhere"))
    assert reference_from_cache_arg(moved, images.encoded) == images.reference_for(env_b)
