"""What a fresh action process shares with its siblings before it runs an attempt: the modules the
fork server and the workers import once (so a fork or a reused worker pays nothing for them), and
how an attempt takes over its process (working directory, stdout/stderr to its log files)."""

from __future__ import annotations

import contextvars
import os
import sys
import weakref
from typing import Any

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
    # what the entrypoint imports as an action ends: imported in every forked child otherwise
    # (compiled from source each time where bytecode is not written, ~1-2 ms of CPU an action)
    "flyte_jupyter._internal.runtime.scratch",
    "flyte_jupyter._internal.runtime.usage",
    "flyte_jupyter.backend.plugins.local.worker",
    "flyte_jupyter._internal.runtime.spec",
    "flyte_jupyter._internal.runtime.secret_names",  # a nested call's child spec lists its secrets
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


def preload_grpc() -> None:
    """Import grpc, the client and the remote controller: for a process that will run actions of a
    task that calls other tasks (~110 ms of CPU, otherwise paid by its first nested call). Import
    only: no channel and no thread yet."""
    import importlib

    import grpc.aio  # noqa: F401

    # By name, as preload() loads the rest of what an action imports: the backend itself never
    # imports the SDK's controllers.
    importlib.import_module("flyte_jupyter._internal.controllers.remote.controller")


def open_log(path: str) -> int:
    """Create (truncate) one log file of an attempt and return its fd.

    The fork server opens an attempt's stdout *before* it forks (or hands the attempt to its
    spare), so the attempt's process holds it from its first instant as an attempt; the child
    opens its stderr itself. So, for a restarted backend: a live process
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


def order_path_of(stdout_path: str) -> str:
    """The order file beside an attempt's stdout log (`ACTION-N.stdout` -> `ACTION-N.order`)."""
    base = stdout_path[: -len(".stdout")] if stdout_path.endswith(".stdout") else stdout_path
    return base + ".order"


class OrderBook:
    """Records, in the attempt's `.order` file, each switch between writing stdout and stderr (the
    new stream's tag and the byte offset the other had reached), so that the backend can show the
    two streams in the order they were written (`logread.OrderedLogs`). It sees what Python code
    writes through `sys.stdout` / `sys.stderr`; a switch costs a flush, an lseek and one write."""

    def __init__(self, path: str, fds: tuple[int, int] = (1, 2)) -> None:
        self.path = path
        self.fds = fds  # the stdout and stderr log files' descriptors (1 and 2 in a process of its own)
        self.fd: int | None = None  # opened on the first write: a silent attempt costs no file
        self.current = ""
        self.streams: dict[str, Any] = {}

    def switch(self, tag: str) -> None:
        if tag == self.current:
            return
        other = "e" if tag == "o" else "o"
        stream = self.streams.get(other)
        try:
            if self.fd is None:
                self.fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o644)
            if stream is not None:
                stream.flush()
            end = os.lseek(self.fds[1] if other == "e" else self.fds[0], 0, os.SEEK_CUR)
            os.write(self.fd, f"{tag}{end}\n".encode())
        except OSError:
            pass  # a closed stream: the order of what follows is not recorded, nothing is lost
        self.current = tag

    def close(self) -> None:
        if self.fd is not None:
            try:
                os.close(self.fd)
            except OSError:
                pass
            self.fd = None


class _OrderedStream:
    """`sys.stdout` or `sys.stderr` of an attempt: the stream itself, telling the book first."""

    def __init__(self, stream: Any, tag: str, book: OrderBook) -> None:
        self._stream, self._tag, self._book = stream, tag, book
        book.streams[tag] = stream

    def write(self, text: str) -> int:
        self._book.switch(self._tag)
        return self._stream.write(text)

    def writelines(self, lines: Any) -> None:
        self._book.switch(self._tag)
        self._stream.writelines(lines)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def run_entrypoint(argv: list[str], order_path: str | None = None) -> int:
    """Run the entrypoint in this process (a forked child or a reusable worker) and return its exit
    code: whatever it raises is reported on stderr, never lost; stdout/stderr are flushed. With
    `order_path`, switches between stdout and stderr are recorded there (`OrderBook`)."""
    import traceback

    code = 1
    saved = sys.stdout, sys.stderr
    book: OrderBook | None = None
    if order_path:
        book = OrderBook(order_path)
        sys.stdout = _OrderedStream(saved[0], "o", book)  # type: ignore[assignment]
        sys.stderr = _OrderedStream(saved[1], "e", book)  # type: ignore[assignment]
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
        if book is not None:
            sys.stdout, sys.stderr = saved
            book.close()
    return code if isinstance(code, int) else 1


class ActionStreams:
    """What one of several actions sharing a worker's loop writes to: its own stdout and stderr log
    files (with the order of switches between them), and the tasks it started on the loop."""

    def __init__(self, stdout: str, stderr: str) -> None:
        out_fd, err_fd = open_log(stdout), open_log(stderr)
        self.files = (open(out_fd, "w", buffering=1, encoding="utf-8", errors="backslashreplace"),
                      open(err_fd, "w", buffering=1, encoding="utf-8", errors="backslashreplace"))
        self.book = OrderBook(order_path_of(stdout), (out_fd, err_fd))
        self.streams = {"o": _OrderedStream(self.files[0], "o", self.book),
                        "e": _OrderedStream(self.files[1], "e", self.book)}
        self.tasks: "weakref.WeakSet[Any]" = weakref.WeakSet()

    def close(self) -> None:
        for f in self.files:
            try:
                f.close()
            except OSError:
                pass
        self.book.close()


#: The action whose code runs now, on a worker running several at once (None: the worker's own).
CURRENT: "contextvars.ContextVar[ActionStreams | None]" = contextvars.ContextVar("flyte_jupyter_action", default=None)


class RoutedStream:
    """`sys.stdout` / `sys.stderr` of a worker running several actions at once: each write goes to
    the log of the action whose context is current (a contextvar, so a task's own tasks and threads
    started with `asyncio.to_thread` follow it), anything else to the worker's own stream. Output
    written below Python (a C library, a subprocess sharing fd 1) lands in the worker's log."""

    def __init__(self, default: Any, tag: str) -> None:
        self._default, self._tag = default, tag

    def _target(self) -> Any:
        action = CURRENT.get()
        return action.streams[self._tag] if action is not None else self._default

    def write(self, text: str) -> int:
        return self._target().write(text)

    def writelines(self, lines: Any) -> None:
        self._target().writelines(lines)

    def flush(self) -> None:
        self._target().flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._target(), name)


def owning_task_factory(loop: Any, coro: Any, context: Any = None) -> Any:
    """The loop's task factory on a worker running several actions at once: each task is recorded
    with the action that started it, so an action that returns cancels only its own leftovers."""
    import asyncio

    if context is not None:
        task = asyncio.Task(coro, loop=loop, context=context)  # type: ignore[call-arg]  # 3.11+
    else:
        task = asyncio.Task(coro, loop=loop)
    action = (context.get(CURRENT) if context is not None else CURRENT.get())
    if action is not None:
        action.tasks.add(task)
    return task


async def run_entrypoint_shared(req: dict, environ: dict[str, str]) -> int:
    """One action on a loop it shares with others (see `RoutedStream`): its output to its own log
    files, its own environment variables in `environ` (the process's are its neighbours' too). The
    process's working directory is the worker's home (one for all its actions: a cwd belongs to the
    process), so the action's own is not made: a directory costs ~0.25 ms of CPU here, a sixth of
    such an action's filesystem work (a mounted secret's folder under it is made by the backend
    when there is one)."""
    import traceback

    try:
        action = ActionStreams(req["stdout"], req["stderr"])
    except OSError:
        traceback.print_exc()
        return 1
    token = CURRENT.set(action)
    code = 1
    try:
        from flyte_jupyter._internal.runtime import entrypoint

        code = await entrypoint.run_async(req["argv"], environ, lambda: set(action.tasks))
    except BaseException:  # noqa: BLE001 - report anything on the action's own stderr
        action.streams["e"].write(traceback.format_exc())
        code = 1
    finally:
        CURRENT.reset(token)
        action.close()
    return code
