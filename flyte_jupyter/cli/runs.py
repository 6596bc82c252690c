"""`flyte-jupyter runs list|get|logs|timeline|abort` and `cache list|clear`: runs and the task cache of a backend."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from flyte_jupyter._internal.wire.models import deployed_of
from flyte_jupyter.cli._common import add_backend_flags, call, client_of, when


def _runs_list(args: argparse.Namespace) -> int:
    client = client_of(args)
    runs = call(lambda: client.list_runs(limit=args.limit, phase=args.phase, project=args.project,
                                         domain=args.domain))
    if args.json:
        print(json.dumps([r.to_json() for r in runs], indent=2, default=str))
        return 0
    if not runs:
        print("no runs")
        return 0
    print(f"{'RUN':<26} {'PHASE':<10} {'ACTIONS':>7}  {'CREATED':<19}  TASK")
    for r in runs:
        deployed = deployed_of(r.labels, r.project, r.domain)
        task = f"deployed {deployed}" if deployed else r.task
        print(f"{r.name:<26} {r.phase.value:<10} {r.action_count:>7}  {when(r.created_at):<19}  {task}")
    return 0


def _runs_get(args: argparse.Namespace) -> int:
    client = client_of(args)
    summary, actions = call(lambda: client.get_run(args.name, project=args.project, domain=args.domain))
    if args.json:
        print(json.dumps({"run": summary.to_json(), "actions": [a.to_json() for a in actions]}, indent=2, default=str))
        return 0
    print(f"run {summary.name}: {summary.phase.value} ({summary.action_count} actions)")
    deployed = deployed_of(summary.labels, summary.project, summary.domain)
    if deployed:
        print(f"deployed {deployed}")
    children: dict[str | None, list[Any]] = {}
    for a in actions:
        children.setdefault(a.parent, []).append(a)

    def show(parent: str | None, indent: int) -> None:
        for a in children.get(parent, []):
            extra = " (cache hit)" if a.cache_hit else ""
            if a.recovered_from:
                extra += f" (recovered from {a.recovered_from})"
            err = f"  {a.error.kind}: {a.error.message}" if a.error and not a.phase.succeeded else ""
            print(f"{'  ' * indent}{a.name} {a.task} {a.phase.value} attempt {a.attempts}{extra}{err}")
            show(a.name, indent + 1)

    show(None, 1)
    return 0


def _runs_timeline(args: argparse.Namespace) -> int:
    """Where the time went: the critical path, the longest actions, the run's CPU and memory."""
    from flyte_jupyter._internal.display.timeline import layout, timeline_text

    client = client_of(args)
    _, actions = call(lambda: client.get_run(args.name))
    tl = layout(args.name, {a.name: a for a in actions}, max_rows=args.max_rows)
    print(json.dumps(tl.to_json(), indent=2) if args.json else timeline_text(tl, top=args.top))
    return 0


def _runs_logs(args: argparse.Namespace) -> int:
    client = client_of(args)

    async def stream() -> None:
        # following: a line still being written (a progress bar) shows as it grows
        async for line in client.tail_logs(args.name, args.action, args.attempt, follow=args.follow,
                                           partial_lines=args.follow):
            out = sys.stderr if line.stream == "stderr" else sys.stdout
            print(line.text, file=out, end="" if line.partial else "\n", flush=True)

    call(stream)
    return 0


def _runs_abort(args: argparse.Namespace) -> int:
    client = client_of(args)
    call(lambda: client.abort_run(args.name, args.reason))
    print(f"run {args.name} aborted")
    return 0


def _runs_delete(args: argparse.Namespace) -> int:
    client = client_of(args)
    count, kept = call(lambda: client.delete_run(args.name))
    print(f"run {args.name} deleted ({count} action{'s' if count != 1 else ''}); its name is free again")
    for uri in kept:
        print(f"kept: {uri}")
    return 0


def _cache_list(args: argparse.Namespace) -> int:
    client = client_of(args)
    entries = call(lambda: client.list_cache(args.task))
    if args.json:
        print(json.dumps(entries, indent=2))
        return 0
    if not entries:
        print("cache is empty")
        return 0
    print(f"{'TASK':<30} {'CACHE VERSION':<14} {'INPUTS':<14} {'CREATED':<19}  SOURCE")
    for e in entries:
        print(f"{e['task']:<30} {e['cache_version'][:12]:<14} {e['inputs_hash'][:12]:<14} "
              f"{when(e['created_at']):<19}  {e['source']}")
    return 0


def _cache_clear(args: argparse.Namespace) -> int:
    client = client_of(args)
    removed = call(lambda: client.clear_cache(args.task))
    print(f"removed {removed} cache entr{'y' if removed == 1 else 'ies'}")
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Install the `runs` and `cache` groups."""
    runs = sub.add_parser("runs", help="list, inspect, read logs of, abort and delete runs").add_subparsers(dest="runs_cmd", required=True)
    p = runs.add_parser("list", help="recent runs, newest first")
    add_backend_flags(p)
    p.add_argument("--limit", type=int, default=20)
    p.add_argument("--phase", default=None)
    p.add_argument("--project", default=None, help="default: the client's project")
    p.add_argument("--domain", default=None, help="default: the client's domain")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_runs_list)
    p = runs.add_parser("get", help="a run and its action tree")
    add_backend_flags(p)
    p.add_argument("name")
    p.add_argument("--json", action="store_true")
    p.add_argument("--project", default=None, help="default: the client's project")
    p.add_argument("--domain", default=None, help="default: the client's domain")
    p.set_defaults(handler=_runs_get)
    p = runs.add_parser("logs", help="an action's output")
    add_backend_flags(p)
    p.add_argument("name")
    p.add_argument("--action", default="a0")
    p.add_argument("--attempt", type=int, default=0)
    p.add_argument("--follow", "-f", action="store_true")
    p.set_defaults(handler=_runs_logs)
    p = runs.add_parser("timeline", help="where a run's time went: critical path, longest actions, CPU and memory")
    add_backend_flags(p)
    p.add_argument("name")
    p.add_argument("--top", type=int, default=5, help="how many of the longest actions to list")
    p.add_argument("--max-rows", type=int, default=200, help="fold big groups past this many rows (--json)")
    p.add_argument("--json", action="store_true", help="the bars as JSON (what the panel's endpoint answers)")
    p.set_defaults(handler=_runs_timeline)
    p = runs.add_parser("abort", help="abort a run and all its live actions")
    add_backend_flags(p)
    p.add_argument("name")
    p.add_argument("--reason", default="aborted from the CLI")
    p.set_defaults(handler=_runs_abort)
    p = runs.add_parser("delete", help="delete a finished run: its records and data (abort a running one first)")
    add_backend_flags(p)
    p.add_argument("name")
    p.set_defaults(handler=_runs_delete)

    cache = sub.add_parser("cache", help="the backend's task cache").add_subparsers(dest="cache_cmd", required=True)
    p = cache.add_parser("list", help="cache entries")
    add_backend_flags(p)
    p.add_argument("--task", default=None)
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_cache_list)
    p = cache.add_parser("clear", help="evict cache entries (all, or one task's)")
    add_backend_flags(p)
    p.add_argument("--task", default=None)
    p.set_defaults(handler=_cache_clear)
