"""`flyte-jupyter rerun RUN [--recover] [-e K=V] [--force-rerun-action A] [--action A] [--INPUT value]`:
a new run of an earlier run's recorded code and inputs (Flyte 2's `flyte.rerun`)."""

from __future__ import annotations

import argparse
from typing import Any

from flyte_jupyter.cli._common import add_backend_flags, call, client_of


def _env_pairs(pairs: list[str]) -> dict[str, str]:
    env: dict[str, str] = {}
    for pair in pairs:
        key, eq, value = pair.partition("=")
        if not eq or not key:
            raise SystemExit(f"error: -e {pair!r} is not KEY=VALUE; write e.g. -e DEBUG=1")
        env[key] = value
    return env


def _rerun(args: argparse.Namespace, words: list[str]) -> int:
    from flyte_jupyter._internal.client.rerun import as_task, submit_rerun
    from flyte_jupyter._internal.types.input_words import parse_task_inputs
    from flyte_jupyter._run import RunOptions

    client = client_of(args)
    env = _env_pairs(args.env)
    inputs: dict[str, Any] = {}
    if words:
        _, spec, _ = call(lambda: client.get_action_spec(args.run, args.action))
        try:
            inputs = parse_task_inputs(as_task(spec), words, options_hint="options of `rerun` go before them")
        except ValueError as exc:
            raise SystemExit(f"error: {exc}") from None
    options = RunOptions(mode="remote", name=args.name, env_vars=env, overwrite_cache=args.overwrite_cache)
    try:
        summary = call(lambda: submit_rerun(client, options, args.run, args.action, args.recover,
                                            args.force_rerun_action, inputs))
    except TypeError as exc:
        raise SystemExit(f"error: {exc}") from None
    print(f"run {summary.name} started (rerun of {args.run}{', recovering' if args.recover else ''})")
    if summary.url:
        print(summary.url)
    if args.wait:
        from flyte_jupyter.remote._run import RemoteRun

        run = RemoteRun(summary.name, None, client, summary.project, summary.domain, summary.url)
        run.wait()
        print(f"run {summary.name}: {run.phase.value}")
        return 0 if run.phase.succeeded else 1
    return 0


def _add_options(p: argparse.ArgumentParser, default: Any) -> None:
    """The command's own options (`default` None after RUN: only what is given there counts)."""
    add_backend_flags(p)
    p.add_argument("--recover", action="store_true", default=default,
                   help="reuse every action that succeeded in RUN (it lands RECOVERED and does not run)")
    p.add_argument("-e", "--env", action="append", default=default, metavar="KEY=VALUE",
                   help="an env var for the new run's actions (added to RUN's own); repeatable")
    p.add_argument("--force-rerun-action", action="append", default=default, metavar="ACTION",
                   help="run this action again even if it could be recovered; repeatable")
    p.add_argument("--action", default=default, help="root the new run at this action of RUN (default a0)")
    p.add_argument("--name", default=default, help="the new run's name (default: a fresh one)")
    p.add_argument("--overwrite-cache", action="store_true", default=default)
    p.add_argument("--wait", action="store_true", default=default,
                   help="wait for the new run to end; exit 1 unless it succeeds")


def _handle(args: argparse.Namespace) -> int:
    """Options may come before or after RUN; the words left after them are the task's inputs."""
    own = argparse.ArgumentParser(prog="flyte-jupyter rerun RUN", add_help=False, allow_abbrev=False)
    _add_options(own, None)
    later, words = own.parse_known_args(args.words)
    for key, value in vars(later).items():
        if value is None:
            continue
        if isinstance(value, list):
            value = [*getattr(args, key), *value]
        setattr(args, key, value)
    return _rerun(args, words)


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("rerun", help="a new run of an earlier run's recorded code and inputs",
                       description=(__doc__ or "").strip(), allow_abbrev=False)
    _add_options(p, None)
    p.set_defaults(recover=False, env=[], force_rerun_action=[], action="a0", name=None,
                   overwrite_cache=False, wait=False)
    p.add_argument("run", help="the run to rerun")
    p.add_argument("words", nargs=argparse.REMAINDER, help="the options above and --INPUT value pairs")
    p.set_defaults(handler=_handle)
