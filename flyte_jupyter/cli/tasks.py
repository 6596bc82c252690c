"""`flyte-jupyter tasks list|get`: the tasks registered on the backend, by project and domain.

    flyte-jupyter tasks list --project P --domain D [--name NAME] [--latest] [--json]
    flyte-jupyter tasks get NAME [--version V] --project P --domain D [--json]

`list` shows every registered version (names, versions, when, by whom; newest first within a
name), `get` one version (the newest without `--version`) with its typed inputs, output, resources
and docs. They only look: they never start a backend.
"""

from __future__ import annotations

import argparse
import json

from flyte_jupyter._internal.deploy.rows import task_row
from flyte_jupyter.cli._common import add_backend_flags, call, client_of, when


def _cmd_list(args: argparse.Namespace) -> int:
    client = client_of(args)
    found = call(lambda: client.list_tasks(project=args.project, domain=args.domain, name=args.name,
                                           limit=args.limit, latest_only=args.latest))
    if args.json:
        print(json.dumps([task_row(t) for t in found], indent=2))
        return 0
    project, domain = args.project or client.project, args.domain or client.domain
    if not found:
        print(f"no tasks registered in {project}/{domain}"
              + (f" named {args.name}" if args.name else "")
              + "; `flyte-jupyter deploy FILE --project P --domain D` registers some")
        return 0
    rows = [(t.id.name, t.id.version, when(t.created_at), t.created_by, t.entry.spec.environment) for t in found]
    heads = ("NAME", "VERSION", "REGISTERED", "BY", "ENVIRONMENT")
    widths = [max(len(heads[i]), *(len(r[i]) for r in rows)) for i in range(len(heads))]
    print(f"tasks in {project}/{domain}:")
    for r in (heads, *rows):
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
    return 0


def _cmd_get(args: argparse.Namespace) -> int:
    client = client_of(args)
    t = call(lambda: client.get_task(args.task, args.version or "", project=args.project, domain=args.domain))
    row = task_row(t)
    if args.json:
        print(json.dumps(row, indent=2))
        return 0
    print(f"{row['name']} version {row['version']} in {row['project']}/{row['domain']}")
    print(f"  registered {when(row['created_at'])} by {row['created_by']}; environment {row['environment']}, "
          f"type {row['type']}, spec {row['digest'][:12]}")
    for i in row["inputs"]:
        default = f" = {i['default']}" if i["has_default"] and i["default"] is not None else (
            " = <default>" if i["has_default"] else "")
        print(f"  input  {i['name']}: {i['type']}{default}")
    print(f"  output {row['output'] or 'None'}")
    if row["resources"]:
        print("  resources " + ", ".join(f"{k}={v}" for k, v in row["resources"].items()))
    if row["docs"]:
        print("  " + row["docs"].strip().replace("\n", "\n  "))
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Install `tasks list` and `tasks get`."""
    tasks = sub.add_parser("tasks", help="tasks registered on the backend (deploy / register)")
    tsub = tasks.add_subparsers(dest="tasks_command", required=True)

    ls = tsub.add_parser("list", help="registered tasks: names, versions, when, by whom", allow_abbrev=False)
    ls.add_argument("--project")
    ls.add_argument("--domain")
    ls.add_argument("--name", help="only this task's versions")
    ls.add_argument("--latest", action="store_true", help="only the newest version of each task")
    ls.add_argument("--limit", type=int, default=200)
    ls.add_argument("--json", action="store_true")
    add_backend_flags(ls)
    ls.set_defaults(handler=_cmd_list)

    get = tsub.add_parser("get", help="one registered version: its interface, resources and docs", allow_abbrev=False)
    get.add_argument("task", metavar="NAME")
    get.add_argument("--version", help="default: the newest")
    get.add_argument("--project")
    get.add_argument("--domain")
    get.add_argument("--json", action="store_true")
    add_backend_flags(get)
    get.set_defaults(handler=_cmd_get)


__all__ = ["add_commands"]
