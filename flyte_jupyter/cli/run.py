"""`flyte-jupyter run FILE TASK --input value ...`: run a task from a Python file, locally or on a backend.

`flyte-jupyter run --deployed NAME [--version V] [--project P] [--domain D] --input value ...` runs a
deployed task instead: the version registered on the backend (the newest without `--version`),
its registered code and image, never a local file. After NAME, `--version`, `--project`,
`--domain`, `--name`, `--config`, `--no-wait` and `--overwrite-cache` are the command's own; every
other `--word value` is an input of the task (after a `--`, every word is).
"""

from __future__ import annotations

import argparse
import json
import os
import runpy
import sys
from pathlib import Path
from typing import Any, Literal

from flyte_jupyter._internal.types.input_words import parse_task_inputs


def load_task(file: str, name: str) -> Any:
    """Load TASK from FILE, a Python script: the file runs as a module named after itself, or
    `script_<name>` when a module of its name is installed (a `json.py` must not pass for `json`)."""
    from flyte_jupyter._internal.runtime.module_names import bundle_module_name
    from flyte_jupyter._task import TaskTemplate

    path = Path(file)
    if not path.exists():
        raise SystemExit(f"error: {file} does not exist")
    module, renamed = bundle_module_name(path, "script_")
    if renamed:
        print(f"warning: {file} runs as module {module}: a module named {path.stem} is installed, and the "
              "script would shadow it; rename the script to keep its own name", file=sys.stderr)
    sys.path.insert(0, str(path.resolve().parent))
    namespace = runpy.run_path(str(path), run_name=module)
    task = namespace.get(name)
    if not isinstance(task, TaskTemplate):
        found = sorted(k for k, v in namespace.items() if isinstance(v, TaskTemplate))
        raise SystemExit(f"error: {file} has no task named {name!r}; tasks found: {found or 'none'}")
    return task


def _cmd_run(args: argparse.Namespace) -> int:
    from flyte_jupyter import _config
    from flyte_jupyter._run import with_runcontext
    from flyte_jupyter.errors import ActionAbortedError, ActionFailedError

    if args.deployed is not None:
        return _cmd_run_deployed(args)
    if not args.file or not args.task:
        raise SystemExit("error: give FILE TASK (a task of a Python file), or --deployed NAME (a deployed task)")
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
        # the run records the script it came from (`source`), as a cell run its notebook and cell
        run = with_runcontext(mode=mode, name=args.name, overwrite_cache=args.overwrite_cache,
                              source=os.path.abspath(args.file)).run(task, **kwargs)
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


def _deployed_options(words: list[str]) -> tuple[str, argparse.Namespace, list[str]]:
    """(NAME, the command's options after it, the task's input words) of `--deployed NAME ...`."""
    if not words or words[0].startswith("-"):
        raise SystemExit("error: --deployed needs the deployed task's name, e.g. --deployed hello.main --version v1")
    name, rest = words[0], list(words[1:])
    only_inputs: list[str] = []
    if "--" in rest:
        cut = rest.index("--")
        rest, only_inputs = rest[:cut], rest[cut + 1:]
    own = argparse.ArgumentParser(prog="flyte-jupyter run --deployed NAME", allow_abbrev=False, add_help=False)
    for flag in ("--version", "--project", "--domain", "--name", "--config"):
        own.add_argument(flag)
    own.add_argument("--no-wait", action="store_true")
    own.add_argument("--overwrite-cache", action="store_true")
    known, inputs = own.parse_known_args(rest)
    return name, known, inputs + only_inputs


def _cmd_run_deployed(args: argparse.Namespace) -> int:
    from flyte_jupyter import _config
    from flyte_jupyter._internal.controllers.base import run_sync
    from flyte_jupyter._run import with_runcontext
    from flyte_jupyter.errors import (
        ActionAbortedError,
        ActionFailedError,
        BackendError,
        NoBackendError,
        RemoteTaskNotFoundError,
        RemoteTaskUsageError,
    )
    from flyte_jupyter.remote._task import Task

    if args.local:
        raise SystemExit("error: a deployed task runs on the backend only; drop --local")
    if args.file or args.task:
        raise SystemExit("error: --deployed NAME runs a deployed task; give it no FILE TASK")
    name, own, words = _deployed_options(args.deployed)
    config = own.config or args.config
    if config:
        _config.init_from_config(config)
    else:
        _config.init_from_config()
    task = Task.get(name, project=own.project, domain=own.domain, version=own.version,
                    auto_version=None if own.version else "latest")
    try:
        task.fetch()
        kwargs = parse_task_inputs(task, words, options_hint="after NAME, only --version, --project, --domain, "
                                   "--name, --config, --no-wait and --overwrite-cache are options of `run`; put "
                                   "an input of the same name after `--`")
        print(f"deployed task {task.name} version {task.version} in {task.project}/{task.domain}", flush=True)
        options = with_runcontext(mode="remote", name=own.name or args.name,
                                  overwrite_cache=own.overwrite_cache or args.overwrite_cache)
        run = run_sync(lambda: task._submit_remote(options._for_remote(), (), kwargs))
        if not (own.no_wait or args.no_wait):
            print(f"run {run.name} submitted{': ' + run.url if run.url else ''}", flush=True)
            run.wait(quiet=False)
        result = run.outputs() if run.done else None
    except (RemoteTaskNotFoundError, RemoteTaskUsageError, BackendError, NoBackendError) as exc:
        print(f"error: {getattr(exc, 'message', None) or exc}", file=sys.stderr)
        return 1
    except (ActionFailedError, ActionAbortedError, TypeError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(run.tree_text())
    if run.done:
        print(json.dumps(result, default=repr) if not isinstance(result, str) else result)
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Install `run`."""
    run = sub.add_parser("run", help="run a task from a Python file, or a deployed task", allow_abbrev=False,
                         description="flyte-jupyter run FILE TASK --input value ...  |  flyte-jupyter run "
                                     "--deployed NAME [--version V] [--project P] [--domain D] --input value ...")
    run.add_argument("file", nargs="?")
    run.add_argument("task", nargs="?")
    run.add_argument("--deployed", nargs=argparse.REMAINDER, metavar="NAME ...",
                     help="run a deployed task (its registered code), by name; the rest of the line is "
                          "[--version V] [--project P] [--domain D] and the task's inputs")
    run.add_argument("--name", help="run name (default: generated)")
    run.add_argument("--config", help="client config file (default: $FLYTE_JUPYTER_CONFIG or local mode)")
    where = run.add_mutually_exclusive_group()
    where.add_argument("--local", action="store_true", help="run in this process")
    where.add_argument("--remote", action="store_true", help="run on the backend (embedded one if none configured)")
    run.add_argument("--overwrite-cache", action="store_true")
    run.add_argument("--no-wait", action="store_true", help="remote: return after submitting")
    run.add_argument("inputs", nargs=argparse.REMAINDER, help="--input value pairs")
    run.set_defaults(handler=_cmd_run)
