"""Which backend do I talk to? One answer for the SDK, the CLI, the kernel and the server extension.

The order is the same for every caller:
1. an explicit client config file (a `--config` flag, a server trait),
2. an explicit endpoint (`flyte.init(endpoint=...)`, `init_from_config(...)`, a server trait),
3. `$FLYTE_JUPYTER_CONFIG`,
4. the embedded backend of the data directory: started on demand when the caller runs work
   (`start=True`), used only when already running when the caller only looks (`start=False`).

Clients are shared per (endpoint, token, project, domain): one channel per process and loop.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from flyte_jupyter import _config
from flyte_jupyter._config import CONFIG_ENV
from flyte_jupyter._internal.client.grpc_client import BackendClient
from flyte_jupyter.errors import NoBackendError

_clients: dict[tuple, BackendClient] = {}





def _shared(client: BackendClient) -> BackendClient:
    key = (client.endpoint, client.token, client.project, client.domain)
    return _clients.setdefault(key, client)


def resolve_client(
    *,
    config_file: str | Path | None = None,
    cfg: Any = None,
    data_dir: str | Path | None = None,
    start: bool = True,
) -> BackendClient:
    """The shared client of the backend this caller should use (see the module docstring).

    `cfg` is a `ClientConfig` (default: the SDK's active one). Raises `NoBackendError` naming the
    two ways out when `start=False` and no backend is configured or running.
    """
    if config_file:
        return _shared(BackendClient.from_file(Path(config_file).expanduser()))
    if cfg is None:
        cfg = _config.current()
    if cfg.endpoint:
        return _shared(BackendClient.from_config(cfg))
    env = os.environ.get(CONFIG_ENV)
    if env:
        return _shared(BackendClient.from_file(Path(env).expanduser()))
    from flyte_jupyter._internal.client import embedded

    if start:
        return _shared(BackendClient.from_file(embedded.ensure_backend(data_dir)))
    info = embedded.backend_status(data_dir)
    if not info.running or info.client_yaml is None:
        raise NoBackendError(
            f"no backend is configured and none is running for {info.data_dir}: start one with "
            "`flyte-jupyter backend start` (or `%flyte backend start`), or point at one with "
            "--config DIR/client.yaml / flyte.init_from_config('DIR/client.yaml')")
    return _shared(BackendClient.from_file(info.client_yaml))


__all__ = ["CONFIG_ENV", "NoBackendError", "resolve_client"]
