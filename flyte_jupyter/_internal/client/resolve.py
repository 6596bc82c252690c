"""Which backend do I talk to? One answer for the SDK, the CLI, the kernel and the server extension.

The order is the same for every caller:
1. an explicit client config file (a `--config` flag, a server trait),
2. an explicit endpoint (`flyte.init(endpoint=...)`, `init_from_config(...)`, a server trait),
3. `$FLYTE_JUPYTER_CONFIG`,
4. the embedded backend of the data directory: started on demand when the caller runs work
   (`start=True`), used only when already running when the caller only looks (`start=False`).

Clients are shared per (endpoint, token, project, domain), and every client of one backend (endpoint
and TLS settings) calls over one channel per loop, owned by a client that holds no credential (each
client sends its own token with each call): a `flyte.init` that changes the token, project or
domain opens no new connection, and the many runs a script or kernel submits share one. A forked
child drops its parent's clients (their channels belong to the parent's loops) and makes its own.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from flyte_jupyter import _config
from flyte_jupyter._config import CONFIG_ENV
from flyte_jupyter._internal.client.grpc_client import BackendClient
from flyte_jupyter.errors import NoBackendError

_clients: dict[tuple, BackendClient] = {}
_channel_owners: dict[tuple, BackendClient] = {}  # (endpoint, insecure, ca_cert) -> the channels' client
_pid = os.getpid()
_lock = threading.Lock()


def _shared(client: BackendClient) -> BackendClient:
    global _pid
    key = (client.endpoint, client.token, client.project, client.domain, client.insecure, client.ca_cert)
    with _lock:
        if _pid != os.getpid():  # a forked child: the parent's channels are not ours
            _clients.clear()
            _channel_owners.clear()
            _pid = os.getpid()
        known = _clients.get(key)
        if known is not None:
            return known
        where = (client.endpoint, client.insecure, client.ca_cert)
        owner = _channel_owners.get(where)
        if owner is None:
            owner = _channel_owners[where] = BackendClient(client.endpoint, None, insecure=client.insecure,
                                                           ca_cert=client.ca_cert)
        shared = BackendClient(client.endpoint, client.token, insecure=client.insecure, ca_cert=client.ca_cert,
                               project=client.project, domain=client.domain, channels_of=owner,
                               closes_shared=True)
        _clients[key] = shared
        return shared


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
