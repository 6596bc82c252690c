"""A local-mode action's declared secrets, put where its code reads them before it runs.

From the configured backend's secret store when one is configured (`flyte.init_from_config`,
`flyte.init(endpoint=...)` or `$FLYTE_JUPYTER_CONFIG`; the embedded backend counts only when it is
configured that way), else, or when the backend has no such secret, from the environment variable
the secret names (`as_env_var`, else its name upper-cased: `openai` -> `OPENAI`, group `g` key
`k` -> `G_K`). A secret with `mount` also becomes a file (mode 0600, in a private temporary
folder) whose path `$<ENV>_FILE` holds. Local mode runs every task in this one process, so a value
set here stays in its environment: isolation between tasks is what remote mode gives.
"""

from __future__ import annotations

import os
from typing import Any

from flyte_jupyter import _config
from flyte_jupyter._internal.runtime.scratch import scratch_dir
from flyte_jupyter._internal.runtime.secret_names import env_var_for, secret_list, stored_name
from flyte_jupyter.errors import SecretNotFoundError

_folder: str | None = None


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
    return path


async def provide(task: Any) -> None:
    """Set the env vars (and files) of `task`'s secrets, or raise SecretNotFoundError."""
    items = secret_list(getattr(task, "secrets", None))
    if not items:
        return
    names = [stored_name(i.key, i.group) for i in items]
    stored = await _from_backend(names) if _backend_configured() else {}
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
        if item.mount:
            os.environ[f"{env}_FILE"] = _write_file(name, value)
        else:
            os.environ[env] = value.decode("utf-8", "surrogateescape")
