"""The `%flyte` line magic and the `%%flyte run` cell magic.

Every command's arguments are declared with IPython's `magic_arguments` (`@magic_arguments`,
`@argument`), as ipyparallel's magics do, so each has generated help: `%flyte?` and
`%flyte --help` list the commands, `%flyte run --help`, `%flyte help run` and `%flyte run?` show
one. `%flyte` dispatches its first word to the command of that name.

Two deliberate departures from the plain `parse_argstring(func, line)` recipe (in `_parse` and
`_TaskInputWords`):

- The line is split with `shlex` (POSIX rules, like a shell and `flyte-jupyter run`), then handed
  to the parser magic_arguments built (`func.parser`). `parse_argstring` splits with IPython's
  `arg_split`, which keeps quotes in the words (`--text "a b"` would give a str input the text
  `"a b"`, quotes included, and a quoted path would not be found).
- `%flyte run TASK --input value ...`: the task's inputs are free-form words that only the task's
  signature can check, so everything after TASK is collected whole (`nargs=REMAINDER`) and parsed by
  `parse_task_inputs`. Not `parse_known_args`: that would take a task input that shares a name with
  a run option (`--name`, `--out`) for the option.
"""

from __future__ import annotations

import argparse
import re
import shlex
from typing import Any, Callable

from IPython.core import magic_arguments
from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class
from IPython.core.magic_arguments import argument

from flyte_jupyter.kernel import _submit
from flyte_jupyter.kernel._errors import CellError
from flyte_jupyter.kernel._registry import open_view

_CELL_RUN = re.compile(r"^%%flyte[ \t]+run\b(?P<line>[^\n]*)\n?", re.S)
# `%flyte run?`: IPython would look up an object named `run`; it means the help of the command
_COMMAND_HELP = re.compile(r"^(?P<indent>[ \t]*)%flyte[ \t]+(?P<command>[\w-]+)[ \t]*\?\??[ \t]*$")


# -- argument parsing ------------------------------------------------------------------------------


class _HelpRequested(Exception):
    """`-h/--help` was given: show `text` instead of running the command."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


def _help_text(parser: argparse.ArgumentParser) -> str:
    """A parser's generated help, without the `::` that makes it reStructuredText in a docstring."""
    text = parser.format_help()
    return text[len("::\n\n"):] if text.startswith("::\n\n") else text


class _ShowHelp(argparse.Action):
    """`-h/--help`. MagicArgumentParser has no help option (argparse's prints, then exits: a kernel
    would show the SystemExit as an error), so this one hands the help to the dispatcher."""

    def __init__(self, option_strings: list[str], dest: str = argparse.SUPPRESS,
                 default: Any = argparse.SUPPRESS, help: str | None = None) -> None:
        super().__init__(option_strings=option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser: argparse.ArgumentParser, namespace: Any, values: Any,
                 option_string: str | None = None) -> None:
        raise _HelpRequested(_help_text(parser))


def _decorate(func: Callable[..., Any], *decorators: Callable[[Any], Any]) -> Any:
    """Apply `argument(...)` decorators so that they appear in the help in the order given."""
    for deco in reversed(decorators):
        func = deco(func)
    return func


def help_option(func: Callable[..., Any]) -> Any:
    return argument("-h", "--help", action=_ShowHelp, help="show this help and do nothing else")(func)


def run_options(func: Callable[..., Any]) -> Any:
    """The options of every `run` form (the cell magic and `%flyte run`)."""
    return _decorate(
        func,
        argument("--name", metavar="N", help="run name (default: generated)"),
        argument("--local", action="store_true",
                 help="run in this kernel with the local controller (default: on the configured backend, "
                      "or on the embedded one, started on first use)"),
        argument("--out", metavar="VAR", help="bind the result to VAR (default: `_`)"),
        argument("--project", metavar="P", help="project of the run (default: the configured one)"),
        argument("--domain", metavar="D", help="domain of the run (default: the configured one)"),
        argument("--overwrite-cache", action="store_true", dest="overwrite_cache",
                 help="run the tasks again instead of reusing cached outputs (and cache the new ones)"),
        argument("--overwrite", action="store_true",
                 help="replace a run named N (a cell that runs --name N again otherwise gets N-2, N-3, ...): "
                      "the old one is aborted if it still runs and deleted, also on a backend"),
    )


class _TaskInputWords(magic_arguments.ArgDecorator):
    """The words after TASK, collected whole for `parse_task_inputs` (see the module docstring).

    Not `argument(...)`: argparse counts a REMAINDER positional as required, and a task whose
    inputs all have defaults takes none."""

    def add_to_parser(self, parser: Any, group: Any) -> None:
        action = (group or parser).add_argument(
            "inputs", metavar="--INPUT VALUE", nargs=argparse.REMAINDER,
            help="the task's inputs: JSON when they parse (`--n 5`, `--xs [1,2]`), else text; every word "
                 "after TASK belongs to the task")
        action.required = False


def _parse(command: Any, words: list[str]) -> argparse.Namespace:
    """`words` parsed by the parser `@magic_arguments` built for `command` (see the module
    docstring for why not `parse_argstring`). A usage error is one line saying where the help is."""
    parser = command.parser
    try:
        return parser.parse_args(words)
    except UsageError as err:
        prog = f"%{parser.prog}"
        raise CellError(f"{prog}: {err}. See `{prog} --help`") from None


def _split(line: str, prog: str) -> list[str]:
    try:
        return shlex.split(line)
    except ValueError as exc:  # e.g. an unclosed quote
        raise CellError(f"{prog}: {exc}") from None


def _identifier(name: str | None) -> str | None:
    if name is not None and not name.isidentifier():
        raise CellError(f"--out {name!r} is not a Python variable name")
    return name


def _target(ns: argparse.Namespace, echo_root: bool = False) -> _submit.Target:
    from IPython import get_ipython

    from flyte_jupyter.kernel._registry import has_widget_frontend

    return _submit.Target(local=ns.local, name=ns.name, project=ns.project, domain=ns.domain,
                          overwrite_cache=ns.overwrite_cache, overwrite=ns.overwrite, cell=current_cell_key(),
                          echo_root=echo_root, capture_output=has_widget_frontend(get_ipython()),
                          recover_from=getattr(ns, "resume", None),
                          force_rerun_actions=tuple(getattr(ns, "force_rerun_action", None) or ()))


# -- the cell being run (what a named run's series belongs to) --------------------------------------

_current_cell: dict[str, Any] = {}


def remember_cell(info: Any) -> None:
    """IPython's `pre_run_cell` event: the cell about to run (its id, when the frontend sends one)."""
    _current_cell.clear()
    _current_cell.update(id=getattr(info, "cell_id", None), raw=getattr(info, "raw_cell", "") or "")


def current_cell_key() -> str | None:
    """The notebook's id of the running cell, else a digest of its text (the same cell run again,
    as Run All does, has the same text)."""
    if _current_cell.get("id"):
        return str(_current_cell["id"])
    raw = _current_cell.get("raw")
    if not raw:
        return None
    import hashlib

    return "text-" + hashlib.sha256(raw.encode()).hexdigest()[:20]


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
    value flows through IPython's display hook like any expression.

    It also turns `%flyte COMMAND?` into `%flyte help COMMAND` (IPython would look up an object
    named COMMAND)."""
    text = "".join(lines)
    match = _CELL_RUN.match(text)
    if match is None:
        return _command_help(lines)
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


def _command_help(lines: list[str]) -> list[str]:
    out = None
    for i, line in enumerate(lines):
        match = _COMMAND_HELP.match(line.rstrip("\r\n"))
        if match and match.group("command") in _COMMANDS:
            out = out if out is not None else list(lines)
            out[i] = f"{match.group('indent')}%flyte help {match.group('command')}\n"
    return lines if out is None else out


@magic_arguments.magic_arguments("%flyte run")
@help_option
@run_options
@argument("--resume", metavar="RUN",
          help="resume the failed or aborted run RUN with this cell's current code: its actions that "
               "succeeded with unchanged code and inputs are recovered (RECOVERED), the rest run")
def _cell_run(shell: Any, ns: argparse.Namespace) -> None:
    """The cell becomes the root action `a0` of a new run.

    The cell may call tasks and helpers defined in earlier cells, and use top-level `await`; its
    last expression is the run's value. Without --local the code is shipped to the configured
    backend (`%flyte connect`), or to the embedded backend, which starts on first use (what the
    cell prints is shown under it); --local runs it in this kernel. A live widget follows the run
    (phase, elapsed time, progress, action tree, Abort). When the run ends its value is displayed
    and bound to `_` (or to VAR with --out VAR); a failure is shown as one error naming the failing
    action, its attempt and the task's traceback. `!cmd` lines run as shell commands in the action;
    other magics are dropped from the run (with a warning). Interrupting the kernel aborts the run.
    """


def _parse_cell_line(line: str) -> argparse.Namespace:
    words = _split(line, "%%flyte")
    if not words or words[0] != "run":
        raise CellError("the cell form is `%%flyte run [--name N] [--overwrite] [--local] [--out VAR] "
                        "[--project P --domain D] [--overwrite-cache]`; see `%%flyte run --help`")
    ns = _parse(_cell_run, words[1:])
    _identifier(ns.out)
    return ns


def _cell_task(shell: Any, body: str) -> Any:
    """The cell's task; a syntax error is reported against the cell's own lines."""
    from flyte_jupyter.kernel._cell import build_cell_task

    try:
        return build_cell_task(shell, body)
    except SyntaxError as err:
        from flyte_jupyter.kernel._errors import MAGIC_LINES

        # the cell's own line number: its first line is the `%%flyte run` line
        where = f"line {err.lineno + MAGIC_LINES} of the cell" if err.lineno else "the cell"
        text = f"\n    {err.text.rstrip()}" if err.text else ""
        raise CellError(f"SyntaxError in {where}: {err.msg}{text}") from None


async def run_cell_async(shell: Any, line: str, body: str) -> Any:
    """Run a cell as the root action of a run, follow it live, then return (or bind) its value."""
    import asyncio

    try:
        ns = _parse_cell_line(_expand(shell, line))
    except _HelpRequested as shown:
        print(shown.text)
        return None
    task = _cell_task(shell, body)
    run = await _submit.start_async(task, (), {}, _target(ns, echo_root=True))
    _remember_last(shell, run)
    view = open_view(shell, run, echo_root=True, cell_loop=asyncio.get_running_loop())
    try:
        await _submit.wait_async(run)
    except asyncio.CancelledError:
        follower = getattr(view, "follower", None)
        if follower is not None:
            follower.close(cancel=True)
        view.finish()
        raise _submit.interrupted(run) from None
    settle = getattr(view, "settle", None)
    if settle is not None:
        await settle()
    view.finish()
    value = _submit.outputs(run)
    return _bind(shell, ns, value)


def run_cell_blocking(shell: Any, line: str, body: str) -> Any:
    """The same for a caller that cannot await (e.g. `run_cell_magic` called directly)."""
    try:
        ns = _parse_cell_line(_expand(shell, line))
    except _HelpRequested as shown:
        print(shown.text)
        return None
    task = _cell_task(shell, body)
    run = _submit.start(task, (), {}, _target(ns, echo_root=True))
    _remember_last(shell, run)
    view = open_view(shell, run, echo_root=getattr(run, "mode", "") == "local")
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


# -- the line commands: `%flyte COMMAND ...` -------------------------------------------------------


@magic_arguments.magic_arguments("flyte run")
@help_option
@run_options
@argument("--wait", action="store_true",
          help="block until the run ends and return the task's outputs (with --out: bind them)")
@argument("task", metavar="TASK", help="a task defined in the notebook (`name` or `module.name`)")
@_TaskInputWords()
def _run_command(shell: Any, ns: argparse.Namespace) -> Any:
    """Start a run of a task defined in the notebook.

    Shows the live widget and returns the Run at once (bound to VAR with --out VAR); with --wait it
    blocks and returns the task's outputs. Run options go before TASK.
    """
    from flyte_jupyter._task import TaskTemplate

    _identifier(ns.out)
    task = _resolve(shell.user_ns, ns.task)
    if not isinstance(task, TaskTemplate):
        raise CellError(f"{ns.task} is not a task (it is a {type(task).__name__}); declare it with @env.task")
    run = _submit.start(task, (), _task_inputs(task, ns.inputs), _target(ns))
    return _show_started(shell, ns, run)


def _show_started(shell: Any, ns: argparse.Namespace, run: Any) -> Any:
    """Show a just-started run's widget; with --wait block and return its outputs, with --out bind
    the run to VAR, else return the run (one ending for every magic that starts a run)."""
    _remember_last(shell, run)
    view = open_view(shell, run)
    if ns.wait:
        try:
            _submit.wait_blocking(run)
        finally:
            view.finish()
        return _bind(shell, ns, _submit.outputs(run))
    if ns.out:
        shell.user_ns[ns.out] = run
        return None
    return run


@magic_arguments.magic_arguments("flyte resume")
@help_option
@argument("run", metavar="RUN", help="a failed or aborted run")
@argument("--name", metavar="N", help="the new run's name (default: generated)")
@argument("--out", metavar="VAR", help="bind the new run to VAR")
@argument("--force-rerun-action", metavar="ACTION", action="append", dest="force_rerun_action",
          help="run this action again even if it is unchanged; repeatable")
@argument("--wait", action="store_true", help="block until the new run ends and return its outputs")
def _resume_command(shell: Any, ns: argparse.Namespace) -> Any:
    """Resume a failed or aborted run with the notebook's current code.

    Fix the failing task in a cell, then resume: the new run bundles the code the notebook has now,
    reuses every action of RUN that succeeded with unchanged task code and inputs (they show
    RECOVERED, linked to RUN) and runs the changed tasks and what depends on them. RUN's root task
    must be defined in the notebook; for a `%%flyte run` cell, run the cell with `--resume RUN`.
    """
    from flyte_jupyter.kernel._resume import resume

    _identifier(ns.out)
    run = resume(shell, ns.run, _submit.Target(
        name=ns.name, cell=current_cell_key(), capture_output=_has_widgets(),
        force_rerun_actions=tuple(ns.force_rerun_action or ())))
    return _show_started(shell, ns, run)


@magic_arguments.magic_arguments("flyte debug")
@help_option
@argument("run", metavar="RUN", help="the run")
@argument("action", metavar="ACTION", nargs="?", default="a0", help="the failed action (default: a0, the root)")
@argument("--env", action="store_true", help="apply the task's env vars to this kernel too (they are listed either way)")
@argument("--remote", action="store_true",
          help="tasks the body calls run on the backend (each as a run of its own), not in this kernel")
def _debug_command(shell: Any, ns: argparse.Namespace) -> Any:
    """Re-run an action's task in this kernel with the inputs it received, for `%debug`.

    Fetches the action's code bundle and typed inputs from the backend, binds the inputs in the
    notebook under their parameter names (and the session as `_flyte_debug`), then runs the task's
    body here: when it raises, `%debug` (or `pdb.pm()`) stops on the line that raised, with the real
    inputs. Tasks it calls run in local mode, in this kernel (with --remote: on the backend).
    Secrets are never fetched.
    """
    from flyte_jupyter.kernel._debug import debug_action

    return debug_action(shell, ns.run, ns.action, apply_env=ns.env, remote=ns.remote)


def _has_widgets() -> bool:
    from IPython import get_ipython

    from flyte_jupyter.kernel._registry import has_widget_frontend

    return bool(has_widget_frontend(get_ipython()))


@magic_arguments.magic_arguments("flyte runs")
@help_option
@argument("--limit", metavar="N", type=int, default=20, help="show at most N runs (default: 20)")
def _runs_command(shell: Any, ns: argparse.Namespace) -> None:
    """List the runs of this kernel and of the backend, newest first."""
    from flyte_jupyter.kernel._commands import list_runs

    list_runs(ns.limit)


@magic_arguments.magic_arguments("flyte status")
@help_option
@argument("run", metavar="RUN", help="the run's name")
def _status_command(shell: Any, ns: argparse.Namespace) -> Any:
    """Show the live widget (or text tree) of a run of this kernel or of the backend."""
    from flyte_jupyter.kernel._commands import status

    return status(shell, ns.run)


@magic_arguments.magic_arguments("flyte logs")
@help_option
@argument("run", metavar="RUN", help="the run's name")
@argument("action", metavar="ACTION", nargs="?", default="a0", help="the action (default: a0, the root)")
@argument("--follow", "-f", action="store_true", help="keep printing until the attempt ends")
@argument("--attempt", metavar="N", type=int, default=0, help="the attempt (default: the latest)")
def _logs_command(shell: Any, ns: argparse.Namespace) -> None:
    """Print what an action of a remote run printed."""
    from flyte_jupyter.kernel._commands import logs

    logs(ns.run, ns.action, follow=ns.follow, attempt=ns.attempt)


@magic_arguments.magic_arguments("flyte abort")
@help_option
@argument("run", metavar="RUN", help="the run's name")
def _abort_command(shell: Any, ns: argparse.Namespace) -> None:
    """Abort a run and all its live actions."""
    from flyte_jupyter.kernel._commands import abort

    abort(ns.run)


@magic_arguments.magic_arguments("flyte connect")
@help_option
@argument("target", metavar="CONFIG_OR_ENDPOINT",
          help="a backend's client.yaml (see `%%flyte backend status`), or its host:port")
@argument("--token", metavar="T", help="the backend's token (with host:port)")
@argument("--project", metavar="P", help="default project of the runs")
@argument("--domain", metavar="D", help="default domain of the runs")
def _connect_command(shell: Any, ns: argparse.Namespace) -> None:
    """Use a backend for the remote runs of this kernel from now on."""
    from flyte_jupyter.kernel._commands import connect

    connect(ns.target, token=ns.token, project=ns.project, domain=ns.domain)


@magic_arguments.magic_arguments("flyte backend")
@help_option
@argument("action", choices=["start", "stop", "status"],
          help="start, stop or show the embedded backend")
def _backend_command(shell: Any, ns: argparse.Namespace) -> None:
    """The embedded backend: SQLite and files under $FLYTE_JUPYTER_DATA_DIR or the user data directory."""
    from flyte_jupyter.kernel._commands import backend

    backend(ns.action)


_COMMANDS: dict[str, Any] = {
    "run": _run_command, "runs": _runs_command, "status": _status_command, "logs": _logs_command,
    "abort": _abort_command, "connect": _connect_command, "backend": _backend_command,
    "resume": _resume_command, "debug": _debug_command,
}


@magic_arguments.magic_arguments("flyte help")
@argument("command", metavar="COMMAND", nargs="?", choices=[*_COMMANDS, "run-cell"],
          help="a command (`run-cell`: the `%%%%flyte run` cell magic); none: all of them")
def _help_command(shell: Any, ns: argparse.Namespace) -> None:
    """Show the help of `%flyte` or of one of its commands (also: `%flyte COMMAND?`)."""
    if ns.command is None:
        print(_help_text(FlyteMagics.flyte.parser))
    else:
        print(_help_text((_cell_run if ns.command == "run-cell" else _COMMANDS[ns.command]).parser))


_COMMANDS["help"] = _help_command


def _usage(command: Any) -> str:
    """A command's generated usage and the first line of its description, for `%flyte?`."""
    parser = command.parser
    usage = parser.format_usage().strip()
    usage = usage[len("::"):].strip() if usage.startswith("::") else usage
    summary = (parser.description or "").strip().splitlines()[:1]
    return "\n".join([f"  {usage}", *(f"      {line}" for line in summary)])


def _commands_epilog() -> str:
    lines = ["The cell magic (`%flyte help run-cell` for its options):", "", _usage(_cell_run), "",
             "The line commands (`%flyte COMMAND --help` for one in full):", ""]
    for command in _COMMANDS.values():
        lines += [_usage(command), ""]
    lines.append("`_flyte_run` holds the last run the magics started; `{expr}` in a magic's line is "
                 "expanded (`%flyte logs {_flyte_run.name}`).")
    return "\n".join(lines)


def _resolve(namespace: dict[str, Any], dotted: str) -> Any:
    head, *rest = dotted.split(".")
    if head not in namespace:
        raise CellError(f"no task named {head!r} in the notebook; define it with @env.task in a cell first")
    obj = namespace[head]
    for part in rest:
        obj = getattr(obj, part)
    return obj


# -- the magics ------------------------------------------------------------------------------------


@magics_class
class FlyteMagics(Magics):
    @magic_arguments.magic_arguments()
    @magic_arguments.kwds(epilog=_commands_epilog())
    @help_option
    @argument("command", metavar="COMMAND", nargs="?",
              help=f"one of {', '.join(_COMMANDS)}; `%%flyte COMMAND --help` shows its options")
    @argument("words", metavar="...", nargs=argparse.REMAINDER, help="the command's arguments")
    @line_cell_magic
    def flyte(self, line: str, cell: str | None = None) -> Any:
        """Run notebook code on Flyte and manage runs and the backend.

        As a cell magic, `%%flyte run [options]` runs the cell as the root action `a0` of a new
        run, followed live by a widget; its value is displayed and bound to `_` (or to --out VAR).
        As a line magic, `%flyte COMMAND ...` runs one of the commands below.
        """
        if cell is not None:
            return run_cell_blocking(self.shell, line, cell)
        try:
            ns = _parse(self.flyte, _split(line, "%flyte"))
            if ns.command is None:
                raise CellError("usage: %flyte run|runs|status|logs|abort|resume|debug|connect|backend|help ...; "
                                "see `%flyte --help`")
            command = _COMMANDS.get(ns.command)
            if command is None:
                raise CellError(f"%flyte has no command {ns.command!r}; it has run, runs, status, logs, abort, "
                                "resume, debug, connect, backend and help (see `%flyte --help`)")
            return command(self.shell, _parse(command, ns.words))
        except _HelpRequested as shown:
            print(shown.text)
            return None
