"""Two backend replicas on one fresh PostgreSQL database, as the scale-out deployment runs them:
one storage root, one admin token, and one address their actions dial (a proxy to the first
replica up, standing in for the Kubernetes Service, or replica B itself)."""

from __future__ import annotations

import contextlib
import secrets
from pathlib import Path
from typing import Any, Iterator, Sequence

import yaml
from _backend_fixture import BackendProcess, free_port
from faults.harness import TcpProxy


@contextlib.contextmanager
def replica_pair(postgres_server: Any, tmp_path: Path, *, actions_dial_b: bool = False,
                 extra_args: Sequence[str] = ()) -> Iterator[tuple[BackendProcess, BackendProcess, TcpProxy | None]]:
    """Start replicas A and B; yields (A, B, the proxy or None when actions dial B). Both are
    stopped, with their actions, and the SDK is reset to local mode afterwards."""
    import flyte_jupyter as flyte

    url = postgres_server.new_database()
    token = secrets.token_urlsafe(32)
    ports = [free_port(), free_port()]
    proxy = None if actions_dial_b else TcpProxy(*ports)
    endpoint = f"127.0.0.1:{ports[1] if proxy is None else proxy.port}"
    cfg = tmp_path / "replica.yaml"
    cfg.write_text(yaml.safe_dump({"storage_root": (tmp_path / "shared").as_uri(), "endpoint_for_actions": endpoint}))
    made = []
    for i, port in enumerate(ports):
        data = tmp_path / f"replica{i}"
        data.mkdir(mode=0o700)
        (data / "token").write_text(token + "\n")  # one admin secret for the service, as a Secret would give
        made.append(BackendProcess(data, port=port, store_url=url, extra_args=["--config", str(cfg), *extra_args]))
    try:
        for replica in made:
            replica.start()
        yield made[0], made[1], proxy
    finally:
        if proxy is not None:
            proxy.close()
        flyte.init()
        for replica in made:
            replica.stop()
            replica.kill_actions()
