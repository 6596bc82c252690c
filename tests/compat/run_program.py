"""Run one conformance program and print its outcome as one JSON line (the last line of stdout).

    python tests/compat/run_program.py tests/compat/programs/NAME.py --impl ours --mode local
    python tests/compat/run_program.py tests/compat/programs/NAME.py --impl ours --mode remote --config DIR/client.yaml
    python tests/compat/run_program.py tests/compat/programs/NAME.py --impl flyte          # real Flyte 2, local

A program is plain Flyte 2 code written from Flyte's docs: it starts with `import flyte`, defines a
task `main` and a module-level `INPUTS = {...}`; optionally `EXPECT = <value>` (the normalized output
it must give), `EXPECT_ERROR = "ClassName"` (the Flyte error class `flyte.run` must raise), and
`DIFFERS_FROM_FLYTE_LOCAL = "why"` when real Flyte's local mode is known to behave otherwise (it does
not enforce timeouts, nor abort children when their parent ends; it reports these as documented in
the README's "Where we differ").

`--impl ours` aliases `flyte` to flyte_jupyter (see flyte_alias.py) before importing the program;
`--impl flyte` imports the real `flyte` (local mode only: `flyte.init()`). The program is imported
by name from its folder, so remote actions import it from the run's code bundle; they find `flyte`
through tests/compat/shim on the backend's PYTHONPATH.

The line is {"ok": bool, "output": <normalized value>, "error_class": <the most specific Flyte error
class in the exception's MRO, else its type name>, "error_type": <its own type name>, "error_code":
<.code if any>, "error": <message, cut>}. Outputs are normalized so both implementations compare:
Flyte 2.12's `run.outputs()` returns a tuple of the outputs (one element for one output), which is
unwrapped; tuples become lists, sets sorted lists, dataclasses and pydantic models dicts, dates
ISO strings, anything else without a JSON form its repr.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import enum
import importlib
import json
import os
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent

# Flyte 2's public exception classes (flyte.errors, 2.12): what `error_class` reports, so a failure
# compares by the class a Flyte user would catch whichever implementation raised it.
FLYTE_ERROR_NAMES = {
    "BaseRuntimeError", "InitializationError", "RuntimeSystemError", "UnionRpcError", "RuntimeUserError",
    "RuntimeUnknownError", "OOMError", "GPUFaultError", "GPUFaultUserError", "GPUFaultSystemError",
    "TaskInterruptedError", "PrimaryContainerNotFoundError", "TaskTimeoutError", "MaxQueuedTimeExceededError",
    "MaxRuntimeExceededError", "DeadlineExceededError", "ConditionTimedoutError", "RetriesExhaustedError",
    "InvalidImageNameError", "ImagePullBackOffError", "CustomError", "NotInTaskContextError",
    "ActionNotFoundError", "RemoteTaskNotFoundError", "RemoteTaskUsageError", "LogsNotYetAvailableError",
    "RuntimeDataValidationError", "DeploymentError", "ImageBuildError", "ModuleLoadError",
    "InlineIOMaxBytesBreached", "ActionAbortedError", "SlowDownError", "ResourceExhaustedError",
    "OnlyAsyncIOSupportedError", "ParameterMaterializationError", "RestrictedTypeError", "CodeBundleError",
    "SyncTaskCallInAsyncContextError", "TraceDoesNotAllowNestedTasksError", "InvalidPackageError",
    "NonRecoverableError", "ConditionAlreadyExistsError", "ConditionFailedError", "ConditionNotFoundError",
}


def error_class(exc: BaseException) -> str:
    for cls in type(exc).__mro__:
        if cls.__name__ in FLYTE_ERROR_NAMES:
            return cls.__name__
    return type(exc).__name__


def normalize(value: Any) -> Any:
    """A JSON-able form of a task's output that is the same for both implementations."""
    if type(value).__name__ == "ActionOutputs" or (isinstance(value, tuple) and hasattr(value, "_fields")
                                                   and type(value).__module__.startswith("flyte.")):
        value = tuple(value)
        if len(value) == 1:
            value = value[0]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, enum.Enum):
        return normalize(value.value)
    if isinstance(value, (datetime.datetime, datetime.date)):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, dict):
        return {str(k): normalize(v) for k, v in value.items()}
    if isinstance(value, (set, frozenset)):
        return sorted((normalize(v) for v in value), key=repr)
    if isinstance(value, (list, tuple)):
        return [normalize(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: normalize(getattr(value, f.name)) for f in dataclasses.fields(value)}
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        return normalize(dump())
    return repr(value)


def load_program(path: Path) -> Any:
    """Import the program by its module name from its folder (so a code bundle can carry it)."""
    folder = str(path.resolve().parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    return importlib.import_module(path.stem)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("program")
    parser.add_argument("--impl", choices=["ours", "flyte"], default="ours")
    parser.add_argument("--mode", choices=["local", "remote"], default="local")
    parser.add_argument("--config", help="remote: the backend's client.yaml")
    args = parser.parse_args(argv)
    if args.impl == "flyte" and args.mode == "remote":
        parser.error("--impl flyte runs in local mode only")
    if args.mode == "remote" and not args.config:
        parser.error("--mode remote needs --config DIR/client.yaml")

    if args.impl == "ours":
        sys.path.insert(0, str(HERE))
        import flyte_alias

        flyte_alias.install()
    import flyte  # the real one with --impl flyte, flyte_jupyter with --impl ours

    program = load_program(Path(args.program))
    inputs = dict(getattr(program, "INPUTS", {}))
    result: dict[str, Any]
    try:
        if args.mode == "remote":
            flyte.init_from_config(args.config)
        else:
            flyte.init()
        run = flyte.run(program.main, **inputs)
        if hasattr(run, "wait"):
            run.wait()
        result = {"ok": True, "output": normalize(run.outputs())}
    except BaseException as exc:  # noqa: BLE001 - the outcome is what we report
        result = {"ok": False, "output": None, "error_class": error_class(exc), "error_type": type(exc).__name__,
                  "error_code": getattr(exc, "code", None), "error": str(exc)[:2000]}
    sys.stdout.flush()
    print(json.dumps(result, default=repr), flush=True)
    return 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    os._exit(code)  # background loops and threads of either implementation must not hold the exit
