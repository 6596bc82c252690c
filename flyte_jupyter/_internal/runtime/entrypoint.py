"""`python -m flyte_jupyter.entrypoint`: what every remote action runs.

    python -m flyte_jupyter.entrypoint a0 --inputs URI --outputs-path URI --version V
        --raw-data-path URI --run-name R --name A --image-cache B64
        --tgz URI --dest DIR --resolver NAME --module-name M --task-name T
    (or --pkl URI --task-name T for a pickled bundle)

It fetches and safely extracts the bundle, loads the task through the resolver, reads the inputs,
runs the task with the remote controller (nested calls become child actions), and writes either
`outputs.pb` or `error.pb` (an ActionError: kind, message, traceback, user or system origin,
retryable or not) under the outputs path. Exit code 0 means outputs were written, 1 an error was.

Connection details for the remote controller come from the environment the executor sets:
FLYTE_JUPYTER_ENDPOINT, FLYTE_JUPYTER_TOKEN, FLYTE_JUPYTER_PROJECT, FLYTE_JUPYTER_DOMAIN,
FLYTE_JUPYTER_ATTEMPT, FLYTE_JUPYTER_STORAGE_ROOT.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from typing import Any, Sequence

_PARSER: argparse.ArgumentParser | None = None
# Set by the backend for a task it has seen calling other tasks (the local plugin's templates
# import grpc for it; the action starts connecting before its body runs).
PRELOAD_GRPC_ENV = "FLYTE_JUPYTER_PRELOAD_GRPC"


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (built once: a fork-server child reuses the preloaded one)."""
    global _PARSER
    if _PARSER is not None:
        return _PARSER
    p = _PARSER = argparse.ArgumentParser(prog="python -m flyte_jupyter.entrypoint", add_help=True)
    p.add_argument("command", choices=["a0"], help="always a0 (Flyte's entrypoint command name)")
    p.add_argument("--inputs", required=True)
    p.add_argument("--outputs-path", required=True)
    p.add_argument("--version", default="")
    p.add_argument("--raw-data-path", default="")
    p.add_argument("--checkpoint-path", default="")
    p.add_argument("--prev-checkpoint", default="")
    p.add_argument("--run-name", required=True)
    p.add_argument("--name", required=True)
    p.add_argument("--image-cache", default="")
    p.add_argument("--tgz", default=None)
    p.add_argument("--pkl", default=None)
    p.add_argument("--dest", default=".")
    p.add_argument("--resolver", default="flyte_jupyter._internal.runtime.bundle.DefaultResolver")
    p.add_argument("--module-name", default=None)
    p.add_argument("--task-name", required=True)
    return p


_FLAGS = {
    "--inputs": "inputs", "--outputs-path": "outputs_path", "--version": "version",
    "--raw-data-path": "raw_data_path", "--checkpoint-path": "checkpoint_path",
    "--prev-checkpoint": "prev_checkpoint", "--run-name": "run_name", "--name": "name",
    "--image-cache": "image_cache", "--tgz": "tgz", "--pkl": "pkl", "--dest": "dest",
    "--resolver": "resolver", "--module-name": "module_name", "--task-name": "task_name",
}
_DEFAULTS = {"version": "", "raw_data_path": "", "checkpoint_path": "", "prev_checkpoint": "", "image_cache": "",
             "tgz": None, "pkl": None, "dest": ".", "resolver": "flyte_jupyter._internal.runtime.bundle.DefaultResolver",
             "module_name": None}
_REQUIRED = ("inputs", "outputs_path", "run_name", "name", "task_name")
# The flags that say which code an action loads (not which inputs it reads or where it writes):
# the same for every action of one task, so a fork-server template can load that code once.
LOADER_FLAGS = ("--tgz", "--pkl", "--dest", "--resolver", "--module-name", "--task-name", "--version", "--image-cache")


def loader_args(argv: Sequence[str]) -> dict[str, str]:
    """The code-loading flags of an entrypoint command line (`a0 --flag value ...`)."""
    return {flag: value for flag, value in zip(argv[1::2], argv[2::2]) if flag in LOADER_FLAGS}


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    """The arguments, parsed in microseconds when they are well-formed (what the backend always
    sends); anything unusual (help, a typo, `--flag=value`) goes through argparse for its messages."""
    argv = list(argv)
    if argv and argv[0] == "a0" and len(argv) % 2 == 1:
        values: dict[str, Any] = {"command": "a0", **_DEFAULTS}
        ok = True
        for flag, value in zip(argv[1::2], argv[2::2]):
            key = _FLAGS.get(flag)
            if key is None:
                ok = False
                break
            values[key] = value
        if ok and all(k in values for k in _REQUIRED):
            return argparse.Namespace(**values)
    return build_parser().parse_args(argv)


class _Failure(Exception):
    """An error to report, with its origin and retryability decided."""

    def __init__(self, kind: str, message: str, tb: str, origin: str, retryable: bool) -> None:
        super().__init__(message)
        self.kind, self.message, self.tb, self.origin, self.retryable = kind, message, tb, origin, retryable


def _system(exc: BaseException, what: str, retryable: bool = True) -> _Failure:
    return _Failure(type(exc).__name__, f"{what}: {exc}", traceback.format_exc(), "system", retryable)


def load_task(args: argparse.Namespace) -> tuple[Any, Any]:
    """(task, code reference for children) from the bundle named by the arguments."""
    from flyte_jupyter._internal.runtime import bundle as _bundle
    from flyte_jupyter._internal.runtime.spec import CodeRef

    if args.pkl:
        try:
            tasks = _bundle.load_pickle_bundle(args.pkl)
        except _bundle.UnsafeBundleError as exc:  # over a cap: retrying cannot help
            raise _Failure("UnsafeBundleError", str(exc), "", "system", False) from None
        except Exception as exc:  # noqa: BLE001
            raise _system(exc, f"could not load the pickled bundle {args.pkl}") from None
        if args.task_name not in tasks:
            raise _Failure("TaskNotFound", f"task {args.task_name!r} is not in bundle {args.pkl} "
                           f"(it holds {sorted(tasks)})", "", "system", False)
        code = CodeRef("pkl", args.pkl, args.version, args.image_cache, task_names=tuple(sorted(tasks)))
        return tasks[args.task_name], code
    if args.tgz:
        try:
            root = _bundle.fetch_and_extract(args.tgz, args.dest)
        except _bundle.UnsafeBundleError as exc:
            raise _Failure("UnsafeBundleError", str(exc), "", "system", False) from None
        except Exception as exc:  # noqa: BLE001
            raise _system(exc, f"could not fetch the code bundle {args.tgz}") from None
        if root not in sys.path:
            sys.path.insert(0, root)
    if not args.module_name:
        raise _Failure("UsageError", "--module-name is required with --tgz (or pass --pkl)", "", "system", False)
    try:
        resolver = _bundle.load_resolver(args.resolver)
        task = resolver.load_task(args.module_name, args.task_name)
    except Exception as exc:  # noqa: BLE001 - user modules may fail to import in any way
        raise _Failure(type(exc).__name__, f"could not load task {args.module_name}.{args.task_name}: {exc}",
                       traceback.format_exc(), "user", False) from None
    code = CodeRef("tgz", args.tgz or "", args.version, args.image_cache, resolver=args.resolver)
    return task, code


def warm_tasks(task: Any, code: Any) -> None:
    """Compute once what each action of this bundle would compute for itself: the interface and
    the code digest of the task and of every other task its module (or pickle bundle) holds. A
    nested call builds its child's TaskSpec, whose code digest reads the child function's source
    with `inspect.getsource` (tokenizing the module: ~10 ms of CPU per process, a quarter of a
    nested call); a fork-server template calls this after loading the bundle, so every action
    forked from it inherits the results instead."""
    from flyte_jupyter._task import TaskTemplate

    if code.kind == "pkl":
        from flyte_jupyter._internal.runtime import bundle as _bundle

        candidates: list[Any] = list(_bundle.load_pickle_bundle(code.uri).values())
    else:
        module = sys.modules.get(getattr(getattr(task, "func", None), "__module__", "") or "")
        candidates = list(vars(module).values()) if module is not None else []
    for obj in [task, *candidates]:
        if not isinstance(obj, TaskTemplate):
            continue
        try:
            obj.interface  # noqa: B018 - cached on the task
            obj._source_hash  # noqa: B018
        except Exception:  # noqa: BLE001 - a task that cannot be described fails when it is called
            continue


def _write_error(outputs_path: str, failure: _Failure) -> None:
    from flyte_jupyter._internal.runtime import storage as _storage
    from flyte_jupyter._internal.wire.proto import common_pb2

    err = common_pb2.ActionError(kind=failure.kind, message=failure.message, traceback=failure.tb,
                                 retryable=failure.retryable, origin=failure.origin)
    _storage.put_bytes(_storage.join(outputs_path, "error.pb"), err.SerializeToString())


def _write_outputs(outputs_path: str, task: Any, result: Any, raw_data_path: str) -> None:
    from flyte_jupyter._internal.runtime import storage as _storage
    from flyte_jupyter._internal.types import Offloader, to_literal
    from flyte_jupyter._internal.wire.proto import literals_pb2
    from flyte_jupyter.errors import TypeMismatchError

    lm = literals_pb2.LiteralMap()
    if task.interface.has_output:
        offload = Offloader(raw_data_path, task.max_inline_io_bytes) if raw_data_path else None
        try:
            literal = to_literal(result, task.interface.output, name="output", task=task.name, offload=offload,
                                 role="output")
        except TypeMismatchError as exc:
            raise _OutputTypeError(str(exc)) from exc
        lm.literals["o0"].CopyFrom(literal)
    _storage.put_bytes(_storage.join(outputs_path, "outputs.pb"), lm.SerializeToString(deterministic=True))


class _OutputTypeError(Exception):
    """The body returned a value that does not match its declared output type: not retryable."""


def _user_failure(exc: BaseException) -> _Failure:
    """How a failure of the body is recorded: its code (a Flyte error's `.code`, else the type
    name), user or system, retryable or not; the same decisions the local controller makes."""
    from flyte_jupyter._internal.runtime.code_origins import format_traceback
    from flyte_jupyter.errors import (
        ActionAbortedError,
        ActionFailedError,
        BackendError,
        NonRecoverableError,
        error_code,
    )

    if isinstance(exc, _OutputTypeError) and exc.__cause__ is not None:
        cause = exc.__cause__
        return _Failure(error_code(cause), str(cause), "", "user", False)
    if isinstance(exc, MemoryError):
        return _Failure("OOMKilled", "the task ran out of memory (OOM): it asked for more memory than its limit "
                        "allows; raise Resources(memory=...) or use less memory", format_traceback(exc), "user", True)
    if isinstance(exc, ActionFailedError) and exc.action:
        return _Failure(exc.kind, str(exc), exc.traceback or format_traceback(exc), exc.origin or "user", True)
    if isinstance(exc, BackendError):  # the backend could not be reached or refused a child
        return _Failure(type(exc).__name__, str(exc), format_traceback(exc), "system", True)
    retryable = not isinstance(exc, (NonRecoverableError, ActionAbortedError))
    return _Failure(error_code(exc), str(exc), format_traceback(exc), "user", retryable)


def _prepare(args: argparse.Namespace, environ: Any) -> "int | tuple[Any, dict[str, Any], Any, Any, Any]":
    """Load the task and its inputs and make the action's context: (task, inputs, controller,
    context, report), or the exit code when that failed (its error.pb is written)."""
    from flyte_jupyter._context import ActionID, TaskContext
    from flyte_jupyter._internal.controllers import create_controller

    project = environ.get("FLYTE_JUPYTER_PROJECT", "default")
    domain = environ.get("FLYTE_JUPYTER_DOMAIN", "development")
    try:
        task, code = load_task(args)
        controller = create_controller("remote", run_name=args.run_name, project=project, domain=domain, code=code,
                                       raw_data_path=args.raw_data_path)
        if environ.get(PRELOAD_GRPC_ENV) == "1":  # this task calls others: connect while reading inputs
            controller.warm(args.name)
        from flyte_jupyter._internal.runtime import storage as _storage
        from flyte_jupyter._internal.runtime.spec import CUSTOM_CONTEXT_ENV, CUSTOM_CONTEXT_KEY
        from flyte_jupyter._internal.types import decode_inputs

        inputs = decode_inputs(_storage.get_bytes(args.inputs), task.interface.input_types)
        custom = _custom_context(environ.get(CUSTOM_CONTEXT_ENV, ""), inputs.pop(CUSTOM_CONTEXT_KEY, None))
        for key, (_, default) in task.interface.inputs.items():
            if key not in inputs and default is not _empty():
                inputs[key] = default
    except _Failure as known:  # not "as failure": an except target is deleted when its block ends
        _write_error(args.outputs_path, known)
        _print_failure(known)
        return 1
    except Exception as exc:  # noqa: BLE001
        failure = _system(exc, "could not read the action's inputs")
        _write_error(args.outputs_path, failure)
        _print_failure(failure)
        return 1

    attempt = int(environ.get("FLYTE_JUPYTER_ATTEMPT", "1") or 1)
    report = None
    if getattr(task, "report", False):
        from flyte_jupyter._internal.runtime import storage as _storage
        from flyte_jupyter.report._report import Report

        report = Report(_storage.join(args.outputs_path, "report.html"))  # next to outputs.pb
    tc = TaskContext(
        action=ActionID(args.name, args.run_name, project, domain), mode="remote", version=args.version,
        raw_data_path=args.raw_data_path, input_path=args.inputs, output_path=args.outputs_path,
        checkpoint_path=args.checkpoint_path, task_name=task.name, attempt=attempt, controller=controller,
        env_vars=dict(task.env_vars or {}), report=report, custom_context=custom,
    )
    return task, inputs, controller, tc, report


def _finish(args: argparse.Namespace, task: Any, result: Any, report: Any) -> int:
    _flush_report(report)
    _write_outputs(args.outputs_path, task, result, args.raw_data_path)
    return 0


def _failed(args: argparse.Namespace, exc: BaseException, report: Any) -> int:
    _flush_report(report)
    if isinstance(exc, KeyboardInterrupt):
        failure = _Failure("Aborted", "the action was interrupted", "", "system", False)
    else:
        failure = _user_failure(exc)
    try:
        _write_error(args.outputs_path, failure)
    except Exception:  # noqa: BLE001
        traceback.print_exc()
    _print_failure(failure)
    return 1


def run(args: argparse.Namespace) -> int:
    import asyncio

    from flyte_jupyter._context import task_context

    prepared = _prepare(args, os.environ)
    if isinstance(prepared, int):
        return prepared
    task, inputs, controller, tc, report = prepared
    try:
        with task_context(tc):
            if task.is_async or hasattr(task, "pre"):  # a plugin task's pre/post hooks are async
                result = asyncio.run(_execute(task, inputs, controller))
            else:
                # A sync body runs right here: no event loop, no worker thread; its nested calls go
                # through the controller's own loop.
                try:
                    result = task.func(**inputs)
                finally:
                    _close_sync(controller)
        return _finish(args, task, result, report)
    except BaseException as exc:  # noqa: BLE001 - report anything the task raised
        return _failed(args, exc, report)


async def run_async(argv: Sequence[str], environ: Any, leftovers: Any) -> int:
    """One action on a loop it shares with other actions (a reusable worker with `concurrency` > 1):
    `environ` holds its own variables (its attempt number), `leftovers()` the tasks it started and
    left running (only its own: the loop's other tasks belong to its neighbours). A sync body runs
    on a thread of its own. Cancelling the coroutine ends the action as interrupted."""
    import asyncio

    from flyte_jupyter._context import task_context

    args = parse_args(argv)
    prepared = _prepare(args, environ)
    if isinstance(prepared, int):
        return prepared
    task, inputs, controller, tc, report = prepared
    try:
        with task_context(tc):
            if task.is_async or hasattr(task, "pre"):
                result = await _execute(task, inputs, controller, leftovers)
            else:
                try:
                    result = await asyncio.to_thread(task.func, **inputs)
                finally:
                    await controller.aclose()
        return _finish(args, task, result, report)
    except BaseException as exc:  # noqa: BLE001 - report anything the task raised
        return _failed(args, exc, report)


async def _execute(task: Any, inputs: dict[str, Any], controller: Any, leftovers: Any = None) -> Any:
    try:
        result = await task.execute(**inputs)
        await _cancel_leftovers(leftovers)
        return result
    finally:
        await controller.aclose()


async def _cancel_leftovers(leftovers: Any = None) -> None:
    """The body returned: cancel what it left running on its loop (asyncio.run would, a moment
    later), so children it started and never awaited are aborted on the backend now, before this
    action reports success. (A failed attempt leaves them to the backend, which aborts them only
    if the action will not be retried: a next attempt finds them again.)"""
    import asyncio

    me = asyncio.current_task()
    tasks = leftovers() if leftovers is not None else asyncio.all_tasks()
    others = [t for t in tasks if t is not me and not t.done()]
    for t in others:
        t.cancel()
    if others:
        await asyncio.wait(others, timeout=10)


def _custom_context(run_level: str, own: Any) -> dict[str, str]:
    """The action's custom context: its run's (JSON in the environment), then what its parent
    passed along with its inputs."""
    custom: dict[str, str] = {}
    if run_level:
        import json

        try:
            loaded = json.loads(run_level)
        except ValueError:
            loaded = {}
        if isinstance(loaded, dict):
            custom.update({str(k): str(v) for k, v in loaded.items()})
    if isinstance(own, dict):
        custom.update({str(k): str(v) for k, v in own.items()})
    return custom


def _flush_report(report: Any) -> None:
    if report is None:
        return
    try:
        report.flush()
    except Exception:  # noqa: BLE001 - a report must never fail the action
        traceback.print_exc()


def _close_sync(controller: Any) -> None:
    if getattr(controller, "_real", None) is not None:
        import asyncio

        asyncio.run(controller.aclose())


def _empty() -> Any:
    import inspect

    return inspect.Parameter.empty


def _print_failure(failure: _Failure) -> None:
    if failure.tb:
        sys.stderr.write(failure.tb)
    sys.stderr.write(f"[flyte-jupyter] {failure.origin} error {failure.kind}: {failure.message}\n")
    sys.stderr.flush()


def main(argv: Sequence[str] | None = None) -> int:
    """Run one action. Its scratch directories (downloads of its File and Dir inputs, ...) go when
    it ends: the backend's processes end with `os._exit` (no atexit) or run the next action."""
    from flyte_jupyter._internal.runtime.scratch import remove_all

    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        return run(args)
    finally:
        from flyte_jupyter._internal.runtime import usage

        usage.report(args.outputs_path)  # only where the executor asked (its pods run elsewhere)
        remove_all()


if __name__ == "__main__":
    sys.exit(main())
