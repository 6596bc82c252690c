"""`flyte-jupyter run FILE TASK --input value ...`: run a task from a Python file, locally or on a backend."""

from __future__ import annotations

import argparse
import json
import runpy
import sys
from pathlib import Path
from typing import Any, Literal

from flyte_jupyter._internal.types.input_words import parse_task_inputs


def load_task(file: str, name: str) -> Any:
    """Load TASK from FILE, a Python script: the file runs as a module named after itself."""
    from flyte_jupyter._task import TaskTemplate

    path = Path(file)
    if not path.exists():
        raise SystemExit(f"error: {file} does not exist")
    sys.path.insert(0, str(path.resolve().parent))
    namespace = runpy.run_path(str(path), run_name=path.stem)
    task = namespace.get(name)
    if not isinstance(task, TaskTemplate):
        found = sorted(k for k, v in namespace.items() if isinstance(v, TaskTemplate))
        raise SystemExit(f"error: {file} has no task named {name!r}; tasks found: {found or 'none'}")
    return task


def _cmd_run(args: argparse.Namespace) -> int:
    from flyte_jupyter import _config
    from flyte_jupyter._run import with_runcontext
    from flyte_jupyter.errors import ActionAbortedError, ActionFailedError

    if args.config:
        _config.init_from_config(args.config)
    else:
        _config.init_from_config()
    task = load_task(args.file, args.task)
    try:
        kwargs = parse_task_inputs(task, args.inputs, options_hint="options of `flyte-jupyter run`, such as "
                                   "--local, go before FILE TASK: everything after TASK is the task's inputs")
    except ValueError as exc:
        raise SystemExit(f"error: {exc}") from None
    mode: Literal["local", "remote"] | None = "local" if args.local else ("remote" if args.remote else None)
    try:
        run = with_runcontext(mode=mode, name=args.name, overwrite_cache=args.overwrite_cache).run(task, **kwargs)
        if run.mode == "remote" and not args.no_wait:
            print(f"run {run.name} submitted{': ' + run.url if run.url else ''}", flush=True)
            run.wait(quiet=False)
        result = run.outputs() if run.done else None
    except (ActionFailedError, ActionAbortedError, TypeError, ValueError) as exc:  # the message names problem and fix
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(run.tree_text())
    if run.done:
        print(json.dumps(result, default=repr) if not isinstance(result, str) else result)
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Install `run`."""
    run = sub.add_parser("run", help="run a task from a Python file", allow_abbrev=False,
                         description="flyte-jupyter run FILE TASK --input value ...")
    run.add_argument("file")
    run.add_argument("task")
    run.add_argument("--name", help="run name (default: generated)")
    run.add_argument("--config", help="client config file (default: $FLYTE_JUPYTER_CONFIG or local mode)")
    where = run.add_mutually_exclusive_group()
    where.add_argument("--local", action="store_true", help="run in this process")
    where.add_argument("--remote", action="store_true", help="run on the backend (embedded one if none configured)")
    run.add_argument("--overwrite-cache", action="store_true")
    run.add_argument("--no-wait", action="store_true", help="remote: return after submitting")
    run.add_argument("inputs", nargs=argparse.REMAINDER, help="--input value pairs")
    run.set_defaults(handler=_cmd_run)
