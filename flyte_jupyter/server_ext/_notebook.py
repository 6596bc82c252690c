"""Reading a saved notebook: the tasks it defines, and its code as an importable module.

Both work on the source text only (`ast`), never by executing cells in the Jupyter server: the
task list must be cheap and safe to compute for any notebook the user opens.

The module keeps what defines things (imports, functions, classes, assignments) and drops what
acts when a notebook is replayed top to bottom: IPython magics and shell lines, cell magics, bare
expressions (displays, `flyte.run(...)` calls) and any top-level statement that starts a run.
"""

from __future__ import annotations

import ast
import dataclasses
import re
from pathlib import Path
from typing import Any

from flyte_jupyter._internal.runtime.module_names import bundle_module_name
from flyte_jupyter.errors import FlyteJupyterError

_RUN_CALLS = frozenset({"run", "with_runcontext", "run_aio"})
_FLAGS = ast.PyCF_ONLY_AST | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT


class NotebookError(FlyteJupyterError):
    """A notebook the user must fix; `status` is the HTTP status the handler answers with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclasses.dataclass
class TaskInput:
    name: str
    type: str | None
    default: str | None
    required: bool


@dataclasses.dataclass
class NotebookTask:
    """A function decorated with `@<env>.task` in one of the notebook's cells."""

    name: str
    environment: str  # the Python variable of the TaskEnvironment (`env` in `@env.task`)
    doc: str | None
    inputs: list[TaskInput]
    cell: int  # 1-based position among all cells
    line: int
    env_name: str | None = None  # the environment's own name (`TaskEnvironment(name="live")`), when literal

    @property
    def full_name(self) -> str:
        """`live.slow`: the task's name everywhere else (runs, widgets, logs)."""
        return f"{self.env_name or self.environment}.{self.name}"

    def to_json(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "full_name": self.full_name}


@dataclasses.dataclass
class _Cell:
    index: int  # 1-based position among all cells
    source: str
    tree: ast.Module
    origin: str = ""  # the notebook's path as the browser names it, for messages


def _mask_ipython(source: str) -> str | None:
    """The cell with magics and shell escapes turned into `pass` (same line numbers); None for a
    cell magic, whose body is not Python."""
    lines = source.splitlines()
    if lines and lines[0].lstrip().startswith("%%"):
        return None
    out = []
    for line in lines:
        stripped = line.lstrip()
        if stripped.startswith(("%", "!")) or (stripped.endswith("?") and not stripped.startswith("#")
                                                and stripped.rstrip("?").isidentifier()):
            out.append(line[: len(line) - len(stripped)] + "pass")
        elif re.match(r"^\s*[\w.]+\s*=\s*[%!]", line):
            # `files = !ls` / `t = %time f()`: keep the name defined, drop the shell/magic
            name = line.split("=", 1)[0]
            out.append(f"{name}= None")
        else:
            out.append(line)
    return "\n".join(out)


# Limits of what the server parses: a notebook is read whole and every code cell parsed in the
# Jupyter server's process (the runs manager's `max_notebook_bytes` / `max_notebook_cells`).
DEFAULT_MAX_BYTES = 50 * 1024 * 1024
DEFAULT_MAX_CELLS = 5000


def _unparsable(display_path: str, index: int, err: BaseException) -> NotebookError:
    """A 400 naming the cell and what is wrong with it, for an error the parser or `ast` raised."""
    where = f"{display_path}: cell {index}"
    if isinstance(err, SyntaxError):
        line = f", line {err.lineno}" if err.lineno else ""
        return NotebookError(400, f"{display_path}: syntax error in cell {index}{line}: {err.msg}; "
                                  "fix the cell and save the notebook")
    if isinstance(err, RecursionError):
        return NotebookError(400, f"{where} is nested too deeply to parse (an expression or block with too many "
                                  "levels, e.g. a very long chain of operators); split it into smaller statements")
    if isinstance(err, MemoryError):
        return NotebookError(400, f"{where} is too large to parse; split it into smaller cells or move the data "
                                  "to a file")
    return NotebookError(400, f"{where} cannot be parsed: {err}; fix the cell and save the notebook")


_CELL_ERRORS = (SyntaxError, RecursionError, MemoryError, ValueError)


def _source_text(source: Any) -> str:
    """A cell's source as text (nbformat joins lists; a hand-made file may hold anything)."""
    if isinstance(source, str):
        return source
    if isinstance(source, list) and all(isinstance(s, str) for s in source):
        return "".join(source)
    return ""


def read_notebook(path: Path, display_path: str, max_bytes: int = DEFAULT_MAX_BYTES,
                  max_cells: int = DEFAULT_MAX_CELLS) -> list[_Cell]:
    """Parse every code cell; a missing file is a 404, one over the limits a 413, and a cell that
    does not parse (syntax error, nested too deeply, too large) a 400 naming the cell."""
    import nbformat

    try:
        size = path.stat().st_size if path.is_file() else None
    except (OSError, ValueError):
        size = None
    if size is None:
        raise NotebookError(404, f"notebook {display_path} not found; save it first or check the path")
    if max_bytes and size > max_bytes:
        raise NotebookError(413, f"notebook {display_path} is {size} bytes, over the server's limit of {max_bytes} "
                                 "bytes (c.RunsManager.max_notebook_bytes); clear large outputs or move "
                                 "data out of the notebook")
    try:
        nb = nbformat.read(str(path), as_version=4)
        raw_cells = list(nb.get("cells") or [])
    except Exception as err:  # nbformat raises several types for unreadable files (RecursionError too)
        raise NotebookError(400, f"{display_path} is not a readable notebook: {type(err).__name__}: {err}") from None
    if max_cells and len(raw_cells) > max_cells:
        raise NotebookError(413, f"notebook {display_path} has {len(raw_cells)} cells, over the server's limit of "
                                 f"{max_cells} (c.RunsManager.max_notebook_cells); split the notebook")
    cells = []
    for index, cell in enumerate(raw_cells, start=1):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = _mask_ipython(_source_text(cell.get("source")))
        if source is None or not source.strip():
            continue
        try:
            tree = compile(source, f"{display_path}#cell{index}", "exec", _FLAGS)
        except _CELL_ERRORS as err:
            raise _unparsable(display_path, index, err) from None
        cells.append(_Cell(index, source, tree, display_path))
    return cells


def _task_env(decorator: ast.expr) -> str | None:
    """`env` for `@env.task` or `@env.task(...)`, else None."""
    target = decorator.func if isinstance(decorator, ast.Call) else decorator
    if isinstance(target, ast.Attribute) and target.attr == "task" and isinstance(target.value, ast.Name):
        return target.value.id
    return None


def _inputs(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> list[TaskInput]:
    args = fn.args
    positional = args.posonlyargs + args.args
    defaults: list[ast.expr | None] = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)
    pairs = list(zip(positional, defaults)) + list(zip(args.kwonlyargs, args.kw_defaults))
    out = []
    for arg, default in pairs:
        out.append(TaskInput(
            name=arg.arg,
            type=ast.unparse(arg.annotation) if arg.annotation is not None else None,
            default=ast.unparse(default) if default is not None else None,
            required=default is None,
        ))
    return out


def find_tasks(cells: list[_Cell]) -> list[NotebookTask]:
    """Top-level functions decorated with `@<env>.task`, in notebook order; a later definition of
    the same name replaces the earlier one, as re-running cells would."""
    found: dict[str, NotebookTask] = {}
    envs: dict[str, str | None] = {}
    for cell in cells:
        try:
            _cell_envs(cell, envs)
            _cell_tasks(cell, found, envs)
        except _CELL_ERRORS as err:  # `ast.unparse` of an annotation or default nested too deeply
            raise _unparsable(cell.origin or "notebook", cell.index, err) from None
    return list(found.values())


def _env_name(call: ast.expr) -> str | None | bool:
    """For `TaskEnvironment("live", ...)` / `flyte.TaskEnvironment(name="live")`: "live"; None for a
    TaskEnvironment whose name is not a literal; False for anything else."""
    if not isinstance(call, ast.Call):
        return False
    f = call.func
    fname = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else None
    if fname != "TaskEnvironment":
        return False
    arg = next((k.value for k in call.keywords if k.arg == "name"), call.args[0] if call.args else None)
    return arg.value if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and arg.value else None


def _cell_envs(cell: _Cell, envs: dict[str, str | None]) -> None:
    """`env = flyte.TaskEnvironment(name="live")` at the top of a cell: env -> "live"."""
    for node in cell.tree.body:
        targets: list[ast.expr] = []
        value: ast.expr | None = None
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        if value is None:
            continue
        name = _env_name(value)
        for target in targets:
            if isinstance(target, ast.Name):
                if name is False:
                    envs.pop(target.id, None)
                else:
                    envs[target.id] = name  # type: ignore[assignment]


def _cell_tasks(cell: _Cell, found: dict[str, NotebookTask], envs: dict[str, str | None] | None = None) -> None:
    for node in cell.tree.body:
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        env = next((e for e in map(_task_env, node.decorator_list) if e), None)
        if env is None:
            continue
        doc = ast.get_docstring(node)
        found.pop(node.name, None)
        found[node.name] = NotebookTask(
            name=node.name, environment=env, doc=doc.strip().splitlines()[0] if doc else None,
            inputs=_inputs(node), cell=cell.index, line=node.lineno, env_name=(envs or {}).get(env),
        )


def _starts_run(node: ast.AST) -> bool:
    """Whether a top-level statement calls run/with_runcontext (outside nested defs)."""
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)) and current is not node:
            continue
        if isinstance(current, ast.Call):
            f = current.func
            name = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else None
            if name in _RUN_CALLS:
                return True
        if isinstance(current, ast.Await):
            return True
        stack.extend(ast.iter_child_nodes(current))
    return False


def _keep(node: ast.stmt) -> bool:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Import, ast.ImportFrom)):
        return True
    if isinstance(node, ast.Expr):
        return False
    return not _starts_run(node)


def module_source(cells: list[_Cell], display_path: str) -> str:
    """The notebook's definitions as one Python module, cell by cell, with cell markers."""
    parts = [f'"""Code cells of {display_path}, as submitted by the flyte_jupyter server extension."""\n']
    for cell in cells:
        try:
            kept = _kept_source(cell)
        except _CELL_ERRORS as err:  # `ast.unparse` of a statement nested too deeply
            raise _unparsable(display_path, cell.index, err) from None
        if kept:
            parts.append(f"# --- cell {cell.index} ---\n" + "\n".join(kept) + "\n")
    return "\n".join(parts)


def _kept_source(cell: _Cell) -> list[str]:
    """The cell's statements that define things, as source text."""
    lines = cell.source.splitlines()
    kept: list[str] = []
    owners: dict[int, int] = {}
    for node in cell.tree.body:
        for n in range(_first_line(node), (node.end_lineno or node.lineno) + 1):
            owners[n] = owners.get(n, 0) + 1
    for node in cell.tree.body:
        if not _keep(node):
            continue
        start, end = _first_line(node), node.end_lineno or node.lineno
        if any(owners[n] > 1 for n in range(start, end + 1)):
            kept.append(ast.unparse(node))  # shares a line with another statement
        else:
            kept.append("\n".join(lines[start - 1:end]))
    return kept


def _first_line(node: ast.stmt) -> int:
    decorators = getattr(node, "decorator_list", [])
    return min([node.lineno] + [d.lineno for d in decorators])


def module_name_for(path: str, folder: Path | None = None) -> tuple[str, bool]:
    """(a valid, recognisable module name for a notebook: its stem, sanitised, whether it had to
    differ from the stem): `nb_<stem>` when an installed package or a module in the notebook's
    `folder` has the stem's name, which the notebook's module would shadow in the run."""
    return bundle_module_name(path, "nb_", folder)
