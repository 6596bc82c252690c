"""The backend process: `python -m flyte_jupyter.backend --data-dir DIR --port PORT`.

Start-up order: data dir and token, store, state (unfinished runs), plugins, recovery, then the
gRPC server; only when it listens is `DIR/client.yaml` written (endpoint + token, mode 0600), so a
client that sees the file can connect. SIGTERM/SIGINT stop it gracefully; running actions are left
alone and reattached by the next start.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import secrets
import signal
import sys
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import grpc
import grpc.aio

from flyte_jupyter._internal.runtime.paths import embedded_backend_dir
from flyte_jupyter.backend.config import (
    DEFAULT_PORT,
    BackendConfig,
    load_backend_config,
)

log = logging.getLogger("flyte_jupyter.backend")

# How long a thread may hold the GIL while another waits for it (Python's default is 5 ms). The
# event loop gives the GIL up at every system call (a socket write to a fork server, a gRPC
# send, epoll) and, while the store's writer thread runs Python code, waited up to a whole
# interval to get it back: a few ms on every hop of a nested call and of a watch. 0.5 ms bounds
# that wait at a small cost in switches.
_SWITCH_INTERVAL = 0.0005

_OPTIONS = [
    ("grpc.max_send_message_length", 32 * 1024 * 1024),
    ("grpc.max_receive_message_length", 32 * 1024 * 1024),
    ("grpc.so_reuseport", 0),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.min_ping_interval_without_data_ms", 10000),
]


def _write_private(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def load_or_make_token(config: BackendConfig) -> str:
    """The backend's token: made at the first start, kept in DIR/token (0600) afterwards."""
    if config.token_path.exists():
        token = config.token_path.read_text().strip()
        if token:
            return token
    token = secrets.token_urlsafe(32)
    _write_private(config.token_path, token + "\n")
    return token


def _client_yaml(config: BackendConfig, endpoint: str, token: str) -> str:
    import yaml

    return yaml.safe_dump({
        "endpoint": endpoint,
        "api_key": token,
        "insecure": not config.tls,
        "project": config.project,
        "domain": config.domain,
        "data_dir": str(config.data_dir),
        "storage_root": config.storage_root,
        **({"storage_options": config.storage_options} if config.storage_options else {}),
        "pid": os.getpid(),
        **({"ca_cert": str(Path(config.tls_cert).resolve())} if config.tls and config.tls_cert else {}),  # tls implies it
    }, sort_keys=False)


async def serve(config: BackendConfig, ready: asyncio.Event | None = None,
                clock: Callable[[], float] | None = None,
                on_ready: Callable[[Any], None] | None = None) -> None:
    """Run the backend until SIGTERM/SIGINT (or cancellation). `clock` is the scheduler's (tests
    simulate days with it); `on_ready` gets the services' Backend object once the server listens."""
    from importlib.metadata import PackageNotFoundError, version

    from grpc_health.v1 import health, health_pb2, health_pb2_grpc

    try:
        __version__ = version("flyte-jupyter")
    except PackageNotFoundError:  # run from a source tree on PYTHONPATH, not installed
        __version__ = "0+source"
    from flyte_jupyter.backend.catalog import TaskCatalog
    from flyte_jupyter.backend.executor.executor import CacheIndex, Executor
    from flyte_jupyter.backend.executor.plugin import PluginConfig, default_registry
    from flyte_jupyter.backend.scheduler import Scheduler
    from flyte_jupyter.backend.services import Backend, ChildGateway, add_services
    from flyte_jupyter.backend.services.auth import AuthInterceptor, RunCredentials
    from flyte_jupyter.backend.state import StateHub
    from flyte_jupyter.backend.store.factory import make_store
    from flyte_jupyter.backend.store.schema import SchemaTooNew
    from flyte_jupyter.backend.vault import SecretVault, load_key

    config.data_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(config.data_dir, 0o700)
    token = load_or_make_token(config)
    if not config.loopback and not config.tls:
        print(
            f"WARNING: flyte-jupyter backend listens on {config.host} without TLS: the token and all data "
            "travel in clear text. Pass --tls-cert/--tls-key, or keep the default loopback bind.",
            file=sys.stderr, flush=True,
        )

    check_storage(config)
    try:
        store = make_store(config.store_url, config.db_path)
        await store.open()
    except (ValueError, ConnectionError, SchemaTooNew) as exc:
        raise SystemExit(f"flyte-jupyter backend: {exc}") from None
    replica = None
    if config.store_url.startswith(("postgresql:", "postgres:")):  # a shared database: replicas lease runs
        from flyte_jupyter.backend.replicas import Replica

        replica = Replica(store, f"{config.host}:{config.port}", config.data_dir)
    hub = StateHub(store, replica)
    entries = await hub.load()
    catalog = TaskCatalog(store)
    cache = CacheIndex(store)
    await cache.load()
    limits = await store.all_limits()
    resource_defaults = await store.all_resource_defaults()
    vault = SecretVault(store, load_key(config.data_dir))

    credentials = RunCredentials(token, config.run_credential_ttl)
    forwarder = None
    if replica is not None:
        from flyte_jupyter.backend.forward import Forwarder

        forwarder = Forwarder(config.tls_cert if config.tls else None, replica.id)
    interceptor = AuthInterceptor(token, credentials, hub, config.project, config.domain, forwarder)
    server = grpc.aio.server(options=_OPTIONS, maximum_concurrent_rpcs=None, interceptors=[interceptor])
    address = f"{config.host}:{config.port}"
    if config.tls and config.tls_key and config.tls_cert:  # tls implies both
        creds = grpc.ssl_server_credentials([(Path(config.tls_key).read_bytes(), Path(config.tls_cert).read_bytes())])
        port = server.add_secure_port(address, creds)
    else:
        port = server.add_insecure_port(address)
    if not port:
        raise SystemExit(f"cannot listen on {address}: the port is taken; pick another with --port")
    host = config.host if config.host not in ("0.0.0.0", "::", "") else "127.0.0.1"
    endpoint = f"{host}:{port}"
    action_endpoint = config.endpoint_for_actions or endpoint

    registry = default_registry(config.executor, PluginConfig(
        data_dir=config.data_dir, endpoint=action_endpoint, settings=config.executor_config,
        max_parallelism=config.max_parallelism))
    for plugin in registry.plugins():
        await plugin.start()
    # Actions get a credential of their own run (never the admin token): `credentials.mint(run)`.
    executor = Executor(config, hub, catalog, registry, cache, credentials.mint, action_endpoint, vault.resolve)
    backend = Backend(config, store, hub, catalog, cache, registry, executor, token, limits, __version__,
                      resource_defaults, vault)
    backend.scheduler = Scheduler(backend, clock or time.time)
    add_services(server, backend)
    gateway = ChildGateway(backend)
    for plugin in registry.plugins():
        plugin.children = gateway
    health_servicer = health.aio.HealthServicer() if hasattr(health, "aio") else health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)

    await server.start()
    await executor.recover(entries)
    if replica is not None:
        # How the other replicas reach this one (forwarded calls): a pod's own IP on Kubernetes.
        replica.endpoint = config.replica_endpoint or os.environ.get("FLYTE_JUPYTER_REPLICA_ENDPOINT") or endpoint
        await replica.renew()
        hub.on_takeover = executor.adopt
        replica.start(hub.adopt)
    await backend.scheduler.start()  # after recovery: a missed tick's run is one more run to start
    await _set_serving(health_servicer, health_pb2)
    config.pid_path.write_text(f"{os.getpid()}\n")
    _write_private(config.client_yaml, _client_yaml(config, endpoint, token))
    print(f"flyte-jupyter backend listening on {endpoint} (data {config.data_dir}, executor {config.executor}, "
          f"capacity {executor.admission.capacity}"
          + (f", at most {executor.max_parallelism} actions at once" if executor.max_parallelism else "") + ")",
          flush=True)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if ready is not None:
        ready.set()
    if on_ready is not None:
        on_ready(backend)
    try:
        await stop.wait()
    finally:
        await backend.scheduler.close()
        await server.stop(1.0)
        if replica is not None:
            await replica.stop()
        if forwarder is not None:
            await forwarder.close()
        for plugin in reversed(registry.plugins()):  # add-ons first: they wrap the default executor
            try:
                await plugin.close()
            except Exception:  # noqa: BLE001
                log.exception("closing plugin %s", plugin.name)
        await store.close()
        try:
            if config.pid_path.read_text().strip() == str(os.getpid()):
                config.pid_path.unlink()
        except OSError:
            pass


def check_storage(config: BackendConfig) -> None:
    """Make the storage options this process's and its children's, then check the root is usable
    (its fsspec package installed, the bucket writable) before anything is stored."""
    import json

    from flyte_jupyter._internal.runtime import storage as _storage

    if config.storage_options:
        os.environ[_storage.STORAGE_OPTIONS_ENV] = json.dumps(config.storage_options)
    if _storage.is_local(config.storage_root):
        return
    probe = _storage.join(config.storage_root, ".flyte-jupyter-probe")
    try:
        _storage.put_bytes(probe, b"ok")
        if _storage.get_bytes(probe) != b"ok":
            raise OSError("what was written did not read back")
    except ImportError as exc:
        raise SystemExit(f"flyte-jupyter backend: storage {config.storage_root} needs a package for "
                         f"{config.storage_protocol}:// ({exc}); e.g. pip install 'flyte-jupyter[s3]'") from None
    except Exception as exc:  # noqa: BLE001 - any failure of the store is the user's to see, whole
        raise SystemExit(f"flyte-jupyter backend: cannot write to storage {config.storage_root}: "
                         f"{type(exc).__name__}: {exc}. Check storage.options (endpoint_url, key, secret) "
                         "or the credentials in the environment, and that the bucket exists.") from None


async def _set_serving(servicer: Any, health_pb2: Any) -> None:  # grpc_health ships no type hints
    result = servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    if asyncio.iscoroutine(result):
        await result


#: Seconds added to the scheduler's clock: for drills and tests of schedules (what a backend that
#: was down for an hour does), never needed in production.
CLOCK_OFFSET_ENV = "FLYTE_JUPYTER_SCHEDULER_CLOCK_OFFSET"


def _scheduler_clock() -> Callable[[], float]:
    text = os.environ.get(CLOCK_OFFSET_ENV, "")
    if not text:
        return time.time
    try:
        offset = float(text)
    except ValueError:
        raise SystemExit(f"${CLOCK_OFFSET_ENV} is {text[:40]!r}, not a number of seconds") from None
    return lambda: time.time() + offset


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m flyte_jupyter.backend",
                                description="Run the flyte-jupyter backend in the foreground.")
    add_server_flags(p)
    return p


def add_server_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", default=None, help="state, storage and logs (default: the user's data dir)")
    p.add_argument("--host", default=None, help="bind address (default 127.0.0.1; 0.0.0.0 needs TLS)")
    p.add_argument("--port", type=int, default=None, help=f"port (default {DEFAULT_PORT}; 0 = any free port)")
    p.add_argument("--executor", default=None, help="local (default), docker, kubernetes, or module:factory")
    p.add_argument("--max-parallelism", type=int, default=None,
                   help="at most this many actions at once (default: no bound but the capacity, see `capacity`)")
    p.add_argument("--config", default=None, help="backend YAML config file")
    p.add_argument("--tls-cert", default=None)
    p.add_argument("--tls-key", default=None)


def config_from_args(args: argparse.Namespace) -> BackendConfig:
    return load_backend_config(
        args.data_dir or embedded_backend_dir(), args.config, host=args.host, port=args.port, executor=args.executor,
        max_parallelism=args.max_parallelism, tls_cert=args.tls_cert, tls_key=args.tls_key,
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=os.environ.get("FLYTE_JUPYTER_LOG", "WARNING"),
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    config = config_from_args(args)
    sys.setswitchinterval(_SWITCH_INTERVAL)
    try:
        asyncio.run(serve(config, clock=_scheduler_clock()))
    except KeyboardInterrupt:
        pass
    return 0
