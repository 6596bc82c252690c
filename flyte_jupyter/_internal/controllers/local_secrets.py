"""A local-mode action's declared secrets, put where its code reads them before it runs.

From the configured backend's secret store when one is configured (`flyte.init_from_config`,
`flyte.init(endpoint=...)` or `$FLYTE_JUPYTER_CONFIG`; the embedded backend counts only when it is
configured that way), else, or when the backend has no such secret, from the environment variable
the secret names (`as_env_var`, else its name upper-cased: `openai` -> `OPENAI`, group `g` key
`k` -> `G_K`). A secret with `mount` also becomes a file (mode 0600, in a private temporary
folder) whose path `$<ENV>_FILE` holds.

The variables hold only while the action runs: when its last attempt's code ends (returns, raises,
times out, is aborted) each one is put back as it was before (unset again, or its earlier value) and
a mounted secret's file is deleted. Environment variables belong to the whole process, though, and
local mode runs every task in this one process: while an action runs, code running at the same
time (a sibling action, a child it calls, other threads of the kernel) sees its secrets too.
Concurrent actions that set one variable share it: it is restored when the last of them ends, and
while they overlap the most recent value holds. A sync task that timed out may run on in its thread
after its secrets are gone. Isolation between tasks is what remote mode gives.
"""

from __future__ import annotations

import contextlib
import os
import threading
from typing import Any, AsyncIterator

from flyte_jupyter import _config
from flyte_jupyter._internal.runtime.scratch import scratch_dir
from flyte_jupyter._internal.runtime.secret_names import env_var_for, secret_list, stored_name
from flyte_jupyter.errors import SecretNotFoundError

_folder: str | None = None
_lock = threading.Lock()
# env var -> [its value before the first action that set it (None: unset), actions holding it]
_held: dict[str, list[Any]] = {}
_written: set[str] = set()  # the secret files this process wrote and has not deleted yet


def _backend_configured() -> bool:
    from flyte_jupyter._internal.client.resolve import CONFIG_ENV

    return bool(_config.current().endpoint or os.environ.get(CONFIG_ENV))


async def _from_backend(names: list[str]) -> dict[str, bytes]:
    from flyte_jupyter._internal.client import platform
    from flyte_jupyter._internal.client.calls import acall
    from flyte_jupyter._internal.client.resolve import resolve_client

    client = resolve_client(start=False)
    return await acall(lambda: platform.resolve_secrets(client, names))


def _write_file(name: str, value: bytes) -> str:
    global _folder
    if _folder is None or not os.path.isdir(_folder):
        _folder = scratch_dir("secrets-")  # mode 0700
    path = os.path.join(_folder, name)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(value)
    _written.add(path)
    return path


def _hold(name: str, value: str) -> None:
    with _lock:
        held = _held.get(name)
        if held is None:
            _held[name] = [os.environ.get(name), 1]
        else:
            held[1] += 1
        os.environ[name] = value


def _release(name: str) -> None:
    with _lock:
        held = _held[name]
        held[1] -= 1
        if held[1] > 0:
            return
        del _held[name]
        path = os.environ.get(name, "")
        if path in _written:  # a mounted secret's file: gone with its variable
            _written.discard(path)
            with contextlib.suppress(OSError):
                os.unlink(path)
        if held[0] is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = held[0]


async def _values(task: Any) -> dict[str, str]:
    """The env vars `task`'s secrets set (mounted ones written to their files first), or raise
    SecretNotFoundError naming the first missing one. Nothing is set yet."""
    items = secret_list(getattr(task, "secrets", None))
    if not items:
        return {}
    names = [stored_name(i.key, i.group) for i in items]
    stored = await _from_backend(names) if _backend_configured() else {}
    found: list[tuple[Any, str, str, bytes]] = []
    for item, name in zip(items, names):
        env = env_var_for(item.key, item.group, item.as_env_var)
        value = stored.get(name)
        if value is None and env in os.environ:
            value = os.environ[env].encode("utf-8", "surrogateescape")
        if value is None:
            where = "on the configured backend (`flyte-jupyter secrets create " + name + "`) or " \
                if _backend_configured() else ""
            raise SecretNotFoundError(f"task {task.name} needs the secret {name!r}: create it {where}set the "
                                      f"environment variable {env} before running in local mode")
        found.append((item, name, env, value))
    out: dict[str, str] = {}
    for item, name, env, value in found:
        if item.mount:
            out[f"{env}_FILE"] = _write_file(name, value)
        else:
            out[env] = value.decode("utf-8", "surrogateescape")
    return out


@contextlib.asynccontextmanager
async def provided(task: Any) -> AsyncIterator[None]:
    """`task`'s secrets in the environment (and files) for the body of the `async with`, then the
    environment as it was (see the module's docstring); SecretNotFoundError before anything is set."""
    values = await _values(task)
    for name, value in values.items():
        _hold(name, value)
    try:
        yield
    finally:
        for name in values:
            _release(name)
