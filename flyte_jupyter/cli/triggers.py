"""`flyte-jupyter triggers list|pause|resume|delete`: the schedules of deployed tasks.

    flyte-jupyter triggers list [--task T] [--project P --domain D] [--json]
    flyte-jupyter triggers pause NAME [--task T]
    flyte-jupyter triggers resume NAME [--task T]
    flyte-jupyter triggers delete NAME [--task T]

A trigger is named within its task; `--task` is needed only when two tasks use the same trigger
name. A resumed trigger fires from its next tick on (ticks missed while paused do not run).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from flyte_jupyter.cli._common import add_backend_flags, call, client_of, when


def _row(t: Any) -> dict[str, Any]:
    return {"name": t.spec.name, "task": t.task_name, "version": t.task_version, "schedule": t.schedule,
            "active": t.active, "next_fire": t.next_fire or None, "last_fire": t.last_fire or None,
            "last_run": t.last_run or None, "project": t.project, "domain": t.domain}


def _cmd_list(args: argparse.Namespace) -> int:
    from flyte_jupyter._internal.client import platform

    client = client_of(args)
    found = call(lambda: platform.list_triggers(client, task_name=args.task or "", project=args.project,
                                                domain=args.domain))
    if args.json:
        print(json.dumps([_row(t) for t in found], indent=2))
        return 0
    project, domain = args.project or client.project, args.domain or client.domain
    if not found:
        print(f"no triggers in {project}/{domain}; declare @env.task(triggers=flyte.Trigger.hourly()) and "
              "`flyte-jupyter deploy FILE`")
        return 0
    rows = [(t.spec.name, t.task_name, t.schedule, "active" if t.active else "paused", when(t.next_fire),
             when(t.last_fire), t.last_run or "-") for t in found]
    heads = ("NAME", "TASK", "SCHEDULE", "STATE", "NEXT", "LAST", "LAST RUN")
    widths = [max(len(heads[i]), *(len(r[i]) for r in rows)) for i in range(len(heads))]
    print(f"triggers in {project}/{domain}:")
    for r in (heads, *rows):
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
    return 0


def _set(active: bool):  # type: ignore[no-untyped-def]
    def handler(args: argparse.Namespace) -> int:
        from flyte_jupyter._internal.client import platform

        client = client_of(args)
        t = call(lambda: platform.set_trigger_active(client, args.name, active, task_name=args.task or "",
                                                     project=args.project, domain=args.domain))
        state = f"active, next fire {when(t.next_fire)}" if t.active else "paused"
        print(f"trigger {t.spec.name} of {t.task_name}: {state}")
        return 0

    return handler


def _cmd_delete(args: argparse.Namespace) -> int:
    from flyte_jupyter._internal.client import platform

    client = client_of(args)
    call(lambda: platform.delete_trigger(client, args.name, task_name=args.task or "", project=args.project,
                                         domain=args.domain))
    print(f"trigger {args.name} deleted (deploy the task again to bring it back)")
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Install `triggers list|pause|resume|delete`."""
    group = sub.add_parser("triggers", help="schedules of deployed tasks")
    gsub = group.add_subparsers(dest="triggers_command", required=True)
    for verb, helptext, handler in (("list", "triggers with their schedule, next and last fire", _cmd_list),
                                    ("pause", "stop a trigger firing", _set(False)),
                                    ("resume", "let a paused trigger fire again", _set(True)),
                                    ("delete", "remove a trigger", _cmd_delete)):
        p = gsub.add_parser(verb, help=helptext, allow_abbrev=False)
        if verb != "list":
            p.add_argument("name", metavar="NAME")
        p.add_argument("--task", help="the task (when two tasks use the trigger's name)")
        p.add_argument("--project")
        p.add_argument("--domain")
        if verb == "list":
            p.add_argument("--json", action="store_true")
        add_backend_flags(p)
        p.set_defaults(handler=handler)


__all__ = ["add_commands"]
