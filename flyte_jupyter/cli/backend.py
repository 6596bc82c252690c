"""CLI groups for the backend: `backend start|stop|status`, `runs list|get|logs|abort`,
`cache list|clear`, `admin limits set|get`.

Commands other than `backend ...` find the backend through `--config FILE`, then
$FLYTE_JUPYTER_CONFIG, then the embedded backend of `--data-dir` (default: the user's data dir).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import sys
from pathlib import Path
from typing import Any, Awaitable, Callable, TypeVar

T = TypeVar("T")


def _client(args: argparse.Namespace) -> Any:
    import os

    from flyte_jupyter._internal.client.grpc_client import BackendClient
    from flyte_jupyter._internal.client.embedded import backend_status

    path = getattr(args, "config", None) or os.environ.get("FLYTE_JUPYTER_CONFIG")
    if path:
        return BackendClient.from_file(path)
    info = backend_status(getattr(args, "data_dir", None))
    if not info.running or info.client_yaml is None:
        raise SystemExit(f"no backend is running for {info.data_dir}; start one with `flyte-jupyter backend start` "
                         "or pass --config DIR/client.yaml")
    return BackendClient.from_file(info.client_yaml)


def _run(make: Callable[[], Awaitable[T]]) -> T:
    from flyte_jupyter._internal.client.grpc_client import BackendError

    try:
        return asyncio.run(make())
    except BackendError as exc:
        raise SystemExit(f"error ({exc.code}): {exc.message}") from None


def _when(ts: float | None) -> str:
    if not ts:
        return "-"
    return datetime.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")


# -- backend ---------------------------------------------------------------------------------------


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
    from flyte_jupyter._internal.client.grpc_client import BackendClient
    from flyte_jupyter._internal.client.embedded import backend_status

    info = backend_status(args.data_dir)
    out = info.to_json()
    if info.running and info.client_yaml:
        client = BackendClient.from_file(info.client_yaml)
        try:
            out.update(_run(client.status))
        except SystemExit as exc:
            out["error"] = str(exc)
    if args.json:
        print(json.dumps(out, indent=2))
    elif not info.running:
        print(f"no backend running for {info.data_dir}")
    else:
        print(f"backend running: pid {info.pid}, endpoint {info.endpoint}, data {info.data_dir}")
        if "executor" in out:
            print(f"executor {out['executor']}, parallelism {out['max_parallelism']}, "
                  f"running {out['running_actions']}, queued {out['queued_actions']}")
    return 0


# -- runs ------------------------------------------------------------------------------------------


def _runs_list(args: argparse.Namespace) -> int:
    client = _client(args)
    runs = _run(lambda: client.list_runs(limit=args.limit, phase=args.phase))
    if args.json:
        print(json.dumps([r.to_json() for r in runs], indent=2, default=str))
        return 0
    if not runs:
        print("no runs")
        return 0
    print(f"{'RUN':<26} {'PHASE':<10} {'ACTIONS':>7}  {'CREATED':<19}  TASK")
    for r in runs:
        print(f"{r.name:<26} {r.phase.value:<10} {r.action_count:>7}  {_when(r.created_at):<19}  {r.task}")
    return 0


def _runs_get(args: argparse.Namespace) -> int:
    client = _client(args)
    summary, actions = _run(lambda: client.get_run(args.name))
    if args.json:
        print(json.dumps({"run": summary.to_json(), "actions": [a.to_json() for a in actions]}, indent=2, default=str))
        return 0
    print(f"run {summary.name}: {summary.phase.value} ({summary.action_count} actions)")
    children: dict[str | None, list[Any]] = {}
    for a in actions:
        children.setdefault(a.parent, []).append(a)

    def show(parent: str | None, indent: int) -> None:
        for a in children.get(parent, []):
            extra = " (cache hit)" if a.cache_hit else ""
            err = f"  {a.error.kind}: {a.error.message}" if a.error and a.phase.value != "SUCCEEDED" else ""
            print(f"{'  ' * indent}{a.name} {a.task} {a.phase.value} attempt {a.attempts}{extra}{err}")
            show(a.name, indent + 1)

    show(None, 1)
    return 0


def _runs_logs(args: argparse.Namespace) -> int:
    client = _client(args)

    async def stream() -> None:
        async for line in client.tail_logs(args.name, args.action, args.attempt, follow=args.follow):
            out = sys.stderr if line.stream == "stderr" else sys.stdout
            print(line.text, file=out, flush=True)

    _run(stream)
    return 0


def _runs_abort(args: argparse.Namespace) -> int:
    client = _client(args)
    _run(lambda: client.abort_run(args.name, args.reason))
    print(f"run {args.name} aborted")
    return 0


# -- cache -----------------------------------------------------------------------------------------


def _cache_list(args: argparse.Namespace) -> int:
    client = _client(args)
    entries = _run(lambda: client.list_cache(args.task))
    if args.json:
        print(json.dumps(entries, indent=2))
        return 0
    if not entries:
        print("cache is empty")
        return 0
    print(f"{'TASK':<30} {'CACHE VERSION':<14} {'INPUTS':<14} {'CREATED':<19}  SOURCE")
    for e in entries:
        print(f"{e['task']:<30} {e['cache_version'][:12]:<14} {e['inputs_hash'][:12]:<14} "
              f"{_when(e['created_at']):<19}  {e['source']}")
    return 0


def _cache_clear(args: argparse.Namespace) -> int:
    client = _client(args)
    removed = _run(lambda: client.clear_cache(args.task))
    print(f"removed {removed} cache entr{'y' if removed == 1 else 'ies'}")
    return 0


# -- admin -----------------------------------------------------------------------------------------


def _limits_set(args: argparse.Namespace) -> int:
    import yaml

    with open(args.file) as fh:
        raw = yaml.safe_load(fh) or {}
    if not isinstance(raw, dict):
        raise SystemExit(f"{args.file} must be a YAML mapping like `memory: 1Gi` (keys cpu, memory, gpu, disk)")
    raw = raw.get("limits", raw) if isinstance(raw.get("limits"), dict) else raw
    client = _client(args)
    limits = _run(lambda: client.set_limits(args.project, args.domain, **{k: (None if v is None else str(v))
                                                                            for k, v in raw.items()}))
    print(f"limits for {args.project}/{args.domain}: {json.dumps(limits)}")
    return 0


def _limits_get(args: argparse.Namespace) -> int:
    client = _client(args)
    limits = _run(lambda: client.get_limits(args.project, args.domain))
    print(json.dumps(limits))
    return 0


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", help="the backend's client.yaml (default: $FLYTE_JUPYTER_CONFIG or the embedded one)")
    p.add_argument("--data-dir", help="the embedded backend's data dir (default: the user's data dir)")


def add_remote_commands(sub: argparse._SubParsersAction) -> None:
    """Install the backend, runs, cache and admin command groups on the `flyte-jupyter` parser."""
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

    runs = sub.add_parser("runs", help="list, inspect, read logs of and abort runs").add_subparsers(dest="runs_cmd", required=True)
    p = runs.add_parser("list", help="recent runs, newest first")
    _common(p)
    p.add_argument("--limit", type=int, default=20)
    p.add_argument("--phase", default=None)
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_runs_list)
    p = runs.add_parser("get", help="a run and its action tree")
    _common(p)
    p.add_argument("name")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_runs_get)
    p = runs.add_parser("logs", help="an action's output")
    _common(p)
    p.add_argument("name")
    p.add_argument("--action", default="a0")
    p.add_argument("--attempt", type=int, default=0)
    p.add_argument("--follow", "-f", action="store_true")
    p.set_defaults(handler=_runs_logs)
    p = runs.add_parser("abort", help="abort a run and all its live actions")
    _common(p)
    p.add_argument("name")
    p.add_argument("--reason", default="aborted from the CLI")
    p.set_defaults(handler=_runs_abort)

    cache = sub.add_parser("cache", help="the backend's task cache").add_subparsers(dest="cache_cmd", required=True)
    p = cache.add_parser("list", help="cache entries")
    _common(p)
    p.add_argument("--task", default=None)
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_cache_list)
    p = cache.add_parser("clear", help="evict cache entries (all, or one task's)")
    _common(p)
    p.add_argument("--task", default=None)
    p.set_defaults(handler=_cache_clear)

    admin = sub.add_parser("admin", help="platform settings").add_subparsers(dest="admin_cmd", required=True)
    limits = admin.add_parser("limits", help="platform resource limits per project and domain").add_subparsers(
        dest="limits_cmd", required=True)
    p = limits.add_parser("set", help="set the limits from a YAML file (cpu, memory, gpu, disk)")
    _common(p)
    p.add_argument("--project", required=True)
    p.add_argument("--domain", required=True)
    p.add_argument("--file", required=True)
    p.set_defaults(handler=_limits_set)
    p = limits.add_parser("get", help="the limits in effect")
    _common(p)
    p.add_argument("--project", default="default")
    p.add_argument("--domain", default="development")
    p.set_defaults(handler=_limits_get)
