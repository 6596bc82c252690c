"""What a fresh action process shares with its siblings before it runs an attempt: the modules the
fork server and the workers import once (so a fork or a reused worker pays nothing for them), and
how an attempt takes over its process (working directory, stdout/stderr to its log files)."""

from __future__ import annotations

import os
import sys

_PRELOAD = (
    "flyte_jupyter",
    "flyte_jupyter._internal.wire.models",
    "flyte_jupyter._context",
    "flyte_jupyter._resources",
    "flyte_jupyter._task",
    "flyte_jupyter._environment",
    "flyte_jupyter._internal.runtime.naming",
    "flyte_jupyter._internal.runtime.storage",
    "flyte_jupyter._internal.types",
    "flyte_jupyter._internal.wire.proto.literals_pb2",
    "flyte_jupyter._internal.wire.proto.common_pb2",
    "flyte_jupyter._internal.runtime.bundle",
    "flyte_jupyter._internal.runtime.entrypoint",
    "flyte_jupyter.backend.plugins.local.worker",
    "flyte_jupyter._internal.runtime.spec",
    "flyte_jupyter._internal.controllers.remote.lazy",
    "flyte_jupyter._internal.controllers.base",
    "flyte_jupyter._group",
    "flyte_jupyter.errors",
    "cloudpickle",
    "asyncio",
    "dataclasses",
    "typing",
    "inspect",
    "json",
    "tarfile",
    "gzip",
)


def preload() -> None:
    import importlib

    for name in _PRELOAD:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - a missing optional module only costs speed
            pass
    try:
        from flyte_jupyter._internal.runtime import entrypoint

        entrypoint.build_parser()
    except Exception:  # noqa: BLE001
        pass
    if "grpc" in sys.modules:  # pragma: no cover - a guard against a future import slipping in
        sys.stderr.write("flyte-jupyter zygote: grpc was imported before fork; children will import their own\n")


def open_log(path: str) -> int:
    """Create (truncate) one log file of an attempt and return its fd.

    The fork server opens an attempt's stdout *before* it forks, so the child holds it from its
    first instant; the child opens its stderr itself. So, for a restarted backend: a live process
    writing the stdout log is the attempt; a stderr log means the attempt's process came to be;
    neither, that it never did (see `LocalProcessPlugin.locate`)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    try:
        return os.open(path, flags, 0o644)
    except FileNotFoundError:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        return os.open(path, flags, 0o644)


def enter_attempt(cwd: str, stdout: str, stderr: str, out_fd: int | None = None) -> None:
    """Make and enter the attempt's working directory and send fds 1/2 to its log files (stdout
    opened here, or already open as `out_fd`), with as few system calls as the common case allows
    (the log directory usually exists already)."""
    try:
        os.mkdir(cwd)
    except FileExistsError:
        pass
    except FileNotFoundError:
        os.makedirs(cwd, exist_ok=True)
    os.chdir(cwd)
    out = out_fd if out_fd is not None else open_log(stdout)
    err = open_log(stderr)
    os.dup2(out, 1)
    os.dup2(err, 2)
    os.close(out)
    os.close(err)


def run_entrypoint(argv: list[str]) -> int:
    """Run the entrypoint in this process (a forked child or a reusable worker) and return its exit
    code: whatever it raises is reported on stderr, never lost; stdout/stderr are flushed."""
    import traceback

    code = 1
    try:
        from flyte_jupyter._internal.runtime import entrypoint

        code = entrypoint.main(argv)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:  # noqa: BLE001 - report anything; the caller decides what comes next
        traceback.print_exc()
        code = 1
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except Exception:  # noqa: BLE001 - a closed stream must not hide the exit code
            pass
    return code if isinstance(code, int) else 1
