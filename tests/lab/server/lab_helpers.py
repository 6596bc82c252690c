"""Helpers shared by the tests/lab modules."""

from __future__ import annotations

import functools
import inspect
from typing import Any, Callable


def on_jupyter_loop(test: Callable[..., Any]) -> Callable[..., Any]:
    """Run an async test on pytest-jupyter's loop, where its server lives.

    The project runs pytest-asyncio in auto mode, which would give the test a loop of its own, and
    a request to the server would then wait forever for a loop that never runs.
    """
    sig = inspect.signature(test)
    wants_loop = "jp_asyncio_loop" in sig.parameters
    params = list(sig.parameters.values())
    if not wants_loop:
        params.append(inspect.Parameter("jp_asyncio_loop", inspect.Parameter.KEYWORD_ONLY))

    def wrapper(**kwargs: Any) -> None:
        loop = kwargs["jp_asyncio_loop"] if wants_loop else kwargs.pop("jp_asyncio_loop")
        loop.run_until_complete(test(**kwargs))

    functools.update_wrapper(wrapper, test)
    del wrapper.__wrapped__
    wrapper.__signature__ = sig.replace(parameters=params)  # type: ignore[attr-defined]
    return wrapper


def deploy(client_yaml: Any, file: Any, *, project: str, domain: str, version: str, data_dir: Any) -> None:
    """`flyte-jupyter deploy FILE` to the backend of `client_yaml`, as a user runs it (a child
    process; `data_dir` holds its image cache, so it never touches the user's)."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "FLYTE_JUPYTER_CONFIG": str(client_yaml), "FLYTE_JUPYTER_DATA_DIR": str(data_dir)}
    done = subprocess.run([sys.executable, "-m", "flyte_jupyter.cli", "deploy", str(file), "--project", project,
                           "--domain", domain, "--version", version], capture_output=True, text=True, env=env,
                          timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
