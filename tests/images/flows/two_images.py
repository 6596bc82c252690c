"""Two environments with different pip packages, called from a root in the backend's own image.

Each task reports what it can import, so the test can check that an action sees only its own
image's package. Module level imports nothing but flyte_jupyter: it is imported in every image.
"""

from __future__ import annotations

import importlib.util
import os
import sys

import flyte_jupyter as flyte

from ..packages import PKG_A, PKG_B

image_a = flyte.Image.from_debian_base().with_pip_packages(PKG_A[1]).with_env_vars({"IMAGE_NAME": "a"})
image_b = flyte.Image.from_debian_base().with_pip_packages(PKG_B[1]).with_env_vars({"IMAGE_NAME": "b"})

env_a = flyte.TaskEnvironment(name="images_e2e_a", image=image_a)
env_b = flyte.TaskEnvironment(name="images_e2e_b", image=image_b)
env_root = flyte.TaskEnvironment(name="images_e2e_root", depends_on=[env_a, env_b])


def _report(own: str) -> dict:
    if own:
        importlib.import_module(own)  # fails the action if its image lacks the package
    return {
        "prefix": sys.prefix,
        "image_name": os.environ.get("IMAGE_NAME", ""),
        "has_a": importlib.util.find_spec(PKG_A[0]) is not None,
        "has_b": importlib.util.find_spec(PKG_B[0]) is not None,
    }


@env_a.task
def in_a() -> dict:
    return _report(PKG_A[0])


@env_b.task
def in_b() -> dict:
    return _report(PKG_B[0])


@env_root.task
async def root() -> dict:
    return {"root": _report(""), "a": await in_a.aio(), "b": await in_b.aio()}
