"""End to end: one remote run on a real backend, two environments with different pip packages."""

from __future__ import annotations

import sys
from pathlib import Path

import flyte_jupyter as flyte
from flyte_jupyter._internal.imagebuild.cache import ImageCache

from .flows import two_images


def test_each_action_runs_in_its_own_image_and_a_second_run_builds_nothing(
    flyte_backend, image_home: Path  # type: ignore[no-untyped-def]
) -> None:
    first = flyte.with_runcontext(mode="remote").run(two_images.root)
    out = first.outputs()
    assert first.phase is flyte.Phase.SUCCEEDED

    assert out["a"]["has_a"] and not out["a"]["has_b"] and out["a"]["image_name"] == "a"
    assert out["b"]["has_b"] and not out["b"]["has_a"] and out["b"]["image_name"] == "b"
    assert not out["root"]["has_a"] and not out["root"]["has_b"] and out["root"]["image_name"] == ""
    venvs = image_home / "venvs"
    assert Path(out["a"]["prefix"]).parent == venvs and Path(out["b"]["prefix"]).parent == venvs
    assert out["a"]["prefix"] != out["b"]["prefix"]
    assert Path(out["root"]["prefix"]).resolve() == Path(sys.prefix).resolve()

    cache = ImageCache(image_home / "cache.sqlite")
    builds = cache.build_count()
    second = flyte.with_runcontext(mode="remote").run(two_images.root)
    assert second.outputs() == out
    assert cache.build_count() == builds, "the second run must find every image in the cache"
