"""The `%flyte` line magic and the `%%flyte run` cell magic."""

from __future__ import annotations

import argparse
import re
import shlex
from typing import Any

from IPython.core.magic import Magics, line_cell_magic, magics_class

from flyte_jupyter.kernel._errors import CellError
from flyte_jupyter.kernel import _submit

_CELL_RUN = re.compile(r"^%%flyte[ \t]+run\b(?P<line>[^\n]*)\n?", re.S)


# -- argument parsing ------------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """argparse that raises CellError (shown as one line) instead of exiting the kernel."""

    def error(self, message: str) -> Any:  # type: ignore[override]
        raise CellError(f"{self.prog}: {message}. See `%flyte?`")

    def exit(self, status: int = 0, message: str | None = None) -> Any:  # type: ignore[override]
        raise CellError(message or f"{self.prog}: see `%flyte?`")


def _run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--name", help="run name (default: generated)")
    parser.add_argument("--local", action="store_true", help="run in this kernel with the local controller")
    parser.add_argument("--out", metavar="VAR", help="bind the result to VAR (default: `_`)")
    parser.add_argument("--project")
    parser.add_argument("--domain")
    parser.add_argument("--overwrite-cache", action="store_true", dest="overwrite_cache")


def _cell_parser() -> _Parser:
    parser = _Parser(prog="%%flyte run", add_help=False)
    _run_options(parser)
    return parser


def _identifier(name: str | None) -> str | None:
    if name is not None and not name.isidentifier():
        raise CellError(f"--out {name!r} is not a Python variable name")
    return name


def _target(ns: argparse.Namespace) -> _submit.Target:
    return _submit.Target(local=ns.local, name=ns.name, project=ns.project, domain=ns.domain,
                          overwrite_cache=ns.overwrite_cache)


def _task_inputs(task: Any, words: list[str]) -> dict[str, Any]:
    from flyte_jupyter._internal.types.input_words import parse_task_inputs

    try:
        return parse_task_inputs(task, words, options_hint="run options such as --local go before the task name")
    except ValueError as exc:
        raise CellError(str(exc)) from None


# -- the cell: turned into an awaited call by the input transformer --------------------------------


def transform_cell_lines(lines: list[str]) -> list[str]:
    """IPython input transformer: a `%%flyte run` cell becomes one awaited call, so the kernel's
    event loop keeps serving widget clicks (Abort, expand) while the run goes on, and the cell's
    value flows through IPython's display hook like any expression."""
    text = "".join(lines)
    match = _CELL_RUN.match(text)
    if match is None:
        return lines
    from IPython import get_ipython

    shell = get_ipython()
    if shell is not None and not getattr(shell, "autoawait", True):
        return lines  # `%autoawait off`: IPython's cell magic runs it, blocking
    line = "run" + match.group("line")
    body = text[match.end():]
    quiet = body.rstrip().endswith(";")
    call = (f"await __import__('flyte_jupyter.kernel._magics', fromlist=['run_cell_async'])"
            f".run_cell_async(get_ipython(), {line!r}, {body!r}){';' if quiet else ''}\n")
    return [call]


# IPython's completeness check (terminal) must not see the rewritten cell: there a `%%` cell ends
# with a blank line, not when its first line parses.
transform_cell_lines.has_side_effects = True  # type: ignore[attr-defined]


def _parse_cell_line(line: str) -> argparse.Namespace:
    words = shlex.split(line)
    if not words or words[0] != "run":
        raise CellError("the cell form is `%%flyte run [--name N] [--local] [--out VAR] "
                        "[--project P --domain D] [--overwrite-cache]`")
    ns = _cell_parser().parse_args(words[1:])
    _identifier(ns.out)
    return ns


def _cell_task(shell: Any, body: str) -> Any:
    """The cell's task; a syntax error is reported against the cell's own lines."""
    from flyte_jupyter.kernel._cell import build_cell_task

    try:
        return build_cell_task(shell, body)
    except SyntaxError as err:
        where = f"line {err.lineno} of the cell" if err.lineno else "the cell"
        text = f"\n    {err.text.rstrip()}" if err.text else ""
        raise CellError(f"SyntaxError in {where}: {err.msg}{text}") from None


def _open_view(shell: Any, run: Any) -> Any:
    from flyte_jupyter.kernel import open_view

    return open_view(shell, run)


async def run_cell_async(shell: Any, line: str, body: str) -> Any:
    """Run a cell as the root action of a run, follow it live, then return (or bind) its value."""
    import asyncio

    ns = _parse_cell_line(_expand(shell, line))
    task = _cell_task(shell, body)
    run = await _submit.start_async(task, (), {}, _target(ns))
    _remember_last(shell, run)
    view = _open_view(shell, run)
    echo = _echo_for(run)
    try:
        await _submit.wait_async(run)
    except asyncio.CancelledError:
        view.finish()
        if echo is not None:
            await echo.close(timeout=2.0)
        raise _submit.interrupted(run) from None
    if echo is not None:
        await echo.close()
    view.finish()
    value = _submit.outputs(run)
    return _bind(shell, ns, value)


def _echo_for(run: Any) -> Any:
    """For a remote run, the cell shows what its root action prints (local runs print directly)."""
    if getattr(run, "mode", "") != "remote" or getattr(run, "client", None) is None:
        return None
    from flyte_jupyter.kernel._echo import LogEcho

    return LogEcho(run)


def run_cell_blocking(shell: Any, line: str, body: str) -> Any:
    """The same for a caller that cannot await (e.g. `run_cell_magic` called directly)."""
    ns = _parse_cell_line(_expand(shell, line))
    task = _cell_task(shell, body)
    run = _submit.start(task, (), {}, _target(ns))
    _remember_last(shell, run)
    view = _open_view(shell, run)
    try:
        _submit.wait_blocking(run)
    finally:
        view.finish()
    return _bind(shell, ns, _submit.outputs(run))


LAST_RUN = "_flyte_run"


def _remember_last(shell: Any, run: Any) -> None:
    """`_flyte_run` is the last run the magics started (e.g. `%flyte logs {_flyte_run.name}`)."""
    if shell is not None:
        shell.user_ns[LAST_RUN] = run


def _expand(shell: Any, line: str) -> str:
    """`{expr}` and `$name` in the magic's line, as IPython expands them for any magic."""
    try:
        return shell.var_expand(line) if shell is not None else line
    except Exception:
        return line


def _bind(shell: Any, ns: argparse.Namespace, value: Any) -> Any:
    if ns.out:
        shell.user_ns[ns.out] = value
        return None
    return value


# -- the magics ------------------------------------------------------------------------------------


@magics_class
class FlyteMagics(Magics):
    @line_cell_magic
    def flyte(self, line: str, cell: str | None = None) -> Any:
        """Run notebook code on Flyte and manage runs and the backend.

        Cell magic (the cell becomes the root action `a0` of a new run)::

            %%flyte run [--name N] [--local] [--out VAR] [--project P --domain D] [--overwrite-cache]
            result = await main(data="hi", n=5)     # top-level await works
            result                                  # the last expression is the run's value

        The cell may call tasks and helpers defined in earlier cells. Without `--local` the code
        is shipped to the configured backend (`%flyte connect`), or to the embedded backend, which
        starts on first use (what the cell prints is shown under it); `--local` runs it in this
        kernel. A live widget follows the run
        (phase, elapsed time, progress, action tree, Abort). When the run ends its value is
        displayed and bound to `_` (or to VAR with `--out VAR`); a failure is shown as one error
        naming the failing action, its attempt and the task's traceback. `!cmd` lines run as
        shell commands in the action; other magics are dropped from the run (with a warning).
        Interrupting the kernel aborts the run. `_flyte_run` holds the last run the magics
        started; `{expr}` in a magic's line is expanded (`%flyte logs {_flyte_run.name}`).

        Line magics::

            %flyte run [--local] [--name N] [--wait] [--out VAR] TASK --input value ...
                start a run of a task defined in the notebook; inputs are JSON when they parse
                (`--n 5`, `--xs [1,2]`), else text. Shows the live widget and returns the Run
                (with --wait: blocks and returns the task's outputs)
            %flyte runs [--limit N]        runs of this kernel and of the backend, newest first
            %flyte status RUN              the live widget (or text tree) of a run
            %flyte logs RUN [ACTION] [--follow] [--attempt N]
                                           what the action (default a0) printed
            %flyte abort RUN               abort a run and all its live actions
            %flyte connect CONFIG_OR_ENDPOINT [--token T] [--project P] [--domain D]
                                           use a backend: a client.yaml path or host:port
            %flyte backend start|stop|status
                                           the embedded backend (SQLite and files under
                                           $FLYTE_JUPYTER_DATA_DIR or the user data directory)
        """
        if cell is not None:
            return run_cell_blocking(self.shell, line, cell)
        words = shlex.split(line)
        if not words:
            raise CellError("usage: %flyte run|runs|status|logs|abort|connect|backend ...; see `%flyte?`")
        command, rest = words[0], words[1:]
        handler = getattr(self, f"_cmd_{command}", None)
        if handler is None:
            raise CellError(f"%flyte has no command {command!r}; it has run, runs, status, logs, abort, "
                            "connect and backend (see `%flyte?`)")
        return handler(rest)

    # -- run ---------------------------------------------------------------------------------------

    def _cmd_run(self, words: list[str]) -> Any:
        from flyte_jupyter._task import TaskTemplate

        split = next((i for i, w in enumerate(words) if not w.startswith("-")
                      and (i == 0 or not _takes_value(words[i - 1]))), None)
        if split is None:
            raise CellError("usage: %flyte run [--local] [--name N] [--wait] [--out VAR] TASK --input value ...")
        parser = _Parser(prog="%flyte run", add_help=False)
        _run_options(parser)
        parser.add_argument("--wait", action="store_true")
        ns = parser.parse_args(words[:split])
        _identifier(ns.out)
        task_name, task_args = words[split], words[split + 1:]
        task = _resolve(self.shell.user_ns, task_name)
        if not isinstance(task, TaskTemplate):
            raise CellError(f"{task_name} is not a task (it is a {type(task).__name__}); declare it with @env.task")
        run = _submit.start(task, (), _task_inputs(task, task_args), _target(ns))
        _remember_last(self.shell, run)
        view = _open_view(self.shell, run)
        if ns.wait:
            try:
                _submit.wait_blocking(run)
            finally:
                view.finish()
            return _bind(self.shell, ns, _submit.outputs(run))
        if ns.out:
            self.shell.user_ns[ns.out] = run
            return None
        return run

    # -- runs, status, abort, logs ------------------------------------------------------------------

    def _cmd_runs(self, words: list[str]) -> None:
        from flyte_jupyter.kernel._commands import list_runs

        parser = _Parser(prog="%flyte runs", add_help=False)
        parser.add_argument("--limit", type=int, default=20)
        ns = parser.parse_args(words)
        list_runs(ns.limit)

    def _cmd_status(self, words: list[str]) -> Any:
        from flyte_jupyter.kernel._commands import status

        parser = _Parser(prog="%flyte status", add_help=False)
        parser.add_argument("run")
        return status(self.shell, parser.parse_args(words).run)

    def _cmd_abort(self, words: list[str]) -> None:
        from flyte_jupyter.kernel._commands import abort

        parser = _Parser(prog="%flyte abort", add_help=False)
        parser.add_argument("run")
        abort(parser.parse_args(words).run)

    def _cmd_logs(self, words: list[str]) -> None:
        from flyte_jupyter.kernel._commands import logs

        parser = _Parser(prog="%flyte logs", add_help=False)
        parser.add_argument("run")
        parser.add_argument("action", nargs="?", default="a0")
        parser.add_argument("--follow", "-f", action="store_true")
        parser.add_argument("--attempt", type=int, default=0)
        ns = parser.parse_args(words)
        logs(ns.run, ns.action, follow=ns.follow, attempt=ns.attempt)

    # -- connect, backend ---------------------------------------------------------------------------

    def _cmd_connect(self, words: list[str]) -> None:
        from flyte_jupyter.kernel._commands import connect

        parser = _Parser(prog="%flyte connect", add_help=False)
        parser.add_argument("target")
        parser.add_argument("--token")
        parser.add_argument("--project")
        parser.add_argument("--domain")
        ns = parser.parse_args(words)
        connect(ns.target, token=ns.token, project=ns.project, domain=ns.domain)

    def _cmd_backend(self, words: list[str]) -> None:
        from flyte_jupyter.kernel._commands import backend

        parser = _Parser(prog="%flyte backend", add_help=False)
        parser.add_argument("action", choices=["start", "stop", "status"])
        backend(parser.parse_args(words).action)


_VALUE_FLAGS = {"--name", "--out", "--project", "--domain"}


def _takes_value(word: str) -> bool:
    return word in _VALUE_FLAGS


def _resolve(namespace: dict[str, Any], dotted: str) -> Any:
    head, *rest = dotted.split(".")
    if head not in namespace:
        raise CellError(f"no task named {head!r} in the notebook; define it with @env.task in a cell first")
    obj = namespace[head]
    for part in rest:
        obj = getattr(obj, part)
    return obj
