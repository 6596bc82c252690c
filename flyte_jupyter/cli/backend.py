"""`flyte-jupyter backend start|stop|status|migrate`: the backend of a data directory (or of a config)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from flyte_jupyter.cli._common import call


def _backend_start(args: argparse.Namespace) -> int:
    if args.foreground:
        from flyte_jupyter.backend.server import main as serve_main

        argv = ["--data-dir", str(args.data_dir)] if args.data_dir else []
        for flag in ("host", "port", "executor", "max_parallelism", "config_file", "tls_cert", "tls_key"):
            value = getattr(args, flag)
            if value is not None:
                name = "--config" if flag == "config_file" else "--" + flag.replace("_", "-")
                argv += [name, str(value)]
        return serve_main(argv)
    from flyte_jupyter._internal.client.embedded import start_backend

    extra: list[str] = []
    for flag in ("executor", "max_parallelism", "config_file", "tls_cert", "tls_key"):
        value = getattr(args, flag)
        if value is not None:
            extra += ["--config" if flag == "config_file" else "--" + flag.replace("_", "-"), str(value)]
    info = start_backend(args.data_dir, args.port, args.host or "127.0.0.1", extra_args=extra)
    print(f"backend running (pid {info.pid}) on {info.endpoint}")
    print(f"connect with: flyte.init_from_config({str(info.client_yaml)!r})")
    return 0


def _backend_stop(args: argparse.Namespace) -> int:
    from flyte_jupyter._internal.client.embedded import stop_backend

    if stop_backend(args.data_dir):
        print("backend stopped")
    else:
        print("no backend was running")
    return 0


def _backend_status(args: argparse.Namespace) -> int:
    from flyte_jupyter._internal.client.embedded import backend_status
    from flyte_jupyter._internal.client.grpc_client import BackendClient

    info = backend_status(args.data_dir)
    out = info.to_json()
    if info.running and info.client_yaml:
        client = BackendClient.from_file(info.client_yaml)
        try:
            out.update(call(client.status))
        except SystemExit as exc:
            out["error"] = str(exc)
    if args.json:
        print(json.dumps(out, indent=2))
    elif not info.running:
        print(f"no backend running for {info.data_dir}")
    else:
        print(f"backend running: pid {info.pid}, endpoint {info.endpoint}, data {info.data_dir}")
        if "executor" in out:
            bound = f", at most {out['max_parallelism']} at once" if out.get("max_parallelism") else ""
            print(f"executor {out['executor']}, running {out['running_actions']}, queued {out['queued_actions']}, "
                  f"waiting on children {out['waiting_parents']}{bound}")
            if out.get("cpu_capacity"):
                print(capacity_line(out))
            if out.get("task_types"):
                print("task types: " + ", ".join(f"{t} ({p})" for t, p in sorted(out["task_types"].items())))
    return 0


def _size(num_bytes: float) -> str:
    return f"{num_bytes / (1 << 30):.1f}Gi" if num_bytes >= 1 << 30 else f"{num_bytes / (1 << 20):.0f}Mi"


def capacity_line(facts: dict) -> str:
    """What running actions request of the capacity, and what is free (`backend status`)."""
    cpu, cpu_used = facts["cpu_capacity"], facts["cpu_requested"]
    mem, mem_used = facts["memory_capacity"], facts["memory_requested"]
    return (f"capacity: cpu {cpu_used:g} of {cpu:g} requested ({max(0.0, cpu - cpu_used):g} free), "
            f"memory {_size(mem_used)} of {_size(mem)} requested ({_size(max(0, mem - mem_used))} free)")


def _backend_migrate(args: argparse.Namespace) -> int:
    """Apply the schema migrations the store of this config lacks (the backend also does at start;
    a platform team runs this once before rolling out replicas of a new release)."""
    from flyte_jupyter._internal.runtime.paths import embedded_backend_dir
    from flyte_jupyter.backend.config import load_backend_config
    from flyte_jupyter.backend.store.factory import make_store
    from flyte_jupyter.backend.store.schema import LATEST, SchemaTooNew

    config = load_backend_config(args.data_dir or embedded_backend_dir(), args.config_file)
    try:
        store = make_store(config.store_url, config.db_path)
        applied = store.migrate()
    except (ValueError, ConnectionError, SchemaTooNew) as exc:
        raise SystemExit(f"flyte-jupyter backend migrate: {exc}") from None
    for step in applied:
        print(f"applied migration {step.version}: {step.description}")
    print(f"schema of {store.where} is at version {LATEST}" + ("" if applied else " (nothing to do)"))
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Install `backend start|stop|status|migrate`."""
    backend = sub.add_parser("backend", help="start, stop or inspect the backend").add_subparsers(dest="backend_cmd", required=True)
    start = backend.add_parser("start", help="start the backend (in the background unless --foreground)")
    start.add_argument("--data-dir", type=Path, default=None)
    start.add_argument("--host", default=None)
    start.add_argument("--port", type=int, default=None)
    start.add_argument("--executor", default=None)
    start.add_argument("--max-parallelism", type=int, default=None)
    start.add_argument("--config", dest="config_file", default=None, help="backend YAML config")
    start.add_argument("--tls-cert", default=None)
    start.add_argument("--tls-key", default=None)
    start.add_argument("--foreground", action="store_true", help="run in this process")
    start.set_defaults(handler=_backend_start)
    stop = backend.add_parser("stop", help="stop the backend of a data dir")
    stop.add_argument("--data-dir", default=None)
    stop.set_defaults(handler=_backend_stop)
    status = backend.add_parser("status", help="is a backend running, and what is it doing")
    status.add_argument("--data-dir", default=None)
    status.add_argument("--json", action="store_true")
    status.set_defaults(handler=_backend_status)
    migrate = backend.add_parser("migrate", help="apply the store's schema migrations (idempotent)")
    migrate.add_argument("--data-dir", default=None, help="the data dir whose SQLite store to migrate")
    migrate.add_argument("--config", dest="config_file", default=None, help="backend YAML config (its store: url)")
    migrate.set_defaults(handler=_backend_migrate)
