"""Turning the body of a `%%flyte run` cell into the task of the run's root action `a0`.

The cell becomes `async def cell(): <body>` whose last expression is returned, so top-level
`await` works and the cell's value is the run's output (a cell without `await` becomes a plain
`def`, so its task calls block a worker thread rather than the controller's loop). IPython syntax is first turned into plain
Python by IPython's own transformers, then made portable, because the body may run in another
process: `!cmd` becomes a `subprocess` call, `x = !cmd` its captured lines, and magics are dropped
(with a warning), since there is no IPython where an action runs.

The function is compiled against the notebook's namespace (its globals are the kernel's
`__main__`), so it may call tasks and helpers defined in earlier cells, and cloudpickle ships it,
and what it refers to, by value. Line numbers are the cell's own, and the source is registered with
`linecache`, so a traceback points at the line the user wrote.
"""

from __future__ import annotations

import ast
import hashlib
import linecache
import warnings
from typing import Any

CELL_FUNCTION = "cell"
ENV_NAME = "notebook"


class _Portable(ast.NodeTransformer):
    """Rewrites the calls IPython's transformers produce into code that runs without IPython."""

    def __init__(self) -> None:
        self.dropped: list[str] = []

    @staticmethod
    def _ipython_call(node: ast.AST) -> str | None:
        # get_ipython().<method>(...)
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Call) and isinstance(node.func.value.func, ast.Name)
                and node.func.value.func.id == "get_ipython"):
            return node.func.attr
        return None

    def visit_Expr(self, node: ast.Expr) -> Any:
        method = self._ipython_call(node.value)
        if method in ("run_line_magic", "run_cell_magic"):
            args = node.value.args  # type: ignore[attr-defined]
            name = args[0].value if args and isinstance(args[0], ast.Constant) else "?"
            self.dropped.append(f"%{name!s}")
            return ast.copy_location(ast.Pass(), node)
        return self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> Any:
        self.generic_visit(node)
        method = self._ipython_call(node)
        if method == "system":
            # subprocess.run(cmd, shell=True).returncode : like `!cmd`, output goes to the action's log
            call = ast.parse("__import__('subprocess').run(None, shell=True).returncode", mode="eval").body
            call.value.args[0] = node.args[0]  # type: ignore[attr-defined]
            return ast.copy_location(call, node)
        if method == "getoutput":
            call = ast.parse("__import__('subprocess').getoutput(None).splitlines()", mode="eval").body
            call.func.value.args[0] = node.args[0]  # type: ignore[attr-defined]
            return ast.copy_location(call, node)
        if method in ("run_line_magic", "run_cell_magic"):
            name = node.args[0].value if node.args and isinstance(node.args[0], ast.Constant) else "?"
            self.dropped.append(f"%{name!s}")
            return ast.copy_location(ast.Constant(None), node)
        return node


def portable_tree(shell: Any, body: str, filename: str = "<cell>") -> tuple[str, ast.Module, list[str]]:
    """IPython syntax turned into plain Python: the transformed source (line for line the cell),
    its portable syntax tree, and the magics that were dropped."""
    source = shell.transform_cell(body) if shell is not None else body
    tree = ast.parse(source, filename=filename)
    fixer = _Portable()
    tree = fixer.visit(tree)
    ast.fix_missing_locations(tree)
    return source, tree, fixer.dropped


def _function_ast(module: ast.Module, filename: str) -> ast.Module:
    """`[async] def cell(): <body>; return <last expression>`, keeping the cell's line numbers.

    A cell that awaits becomes a coroutine; one that does not stays a plain function, so the task
    calls in it block a worker thread, as in a sync task, never the controller's event loop."""
    body = module.body or [ast.Pass()]
    last = body[-1]
    if isinstance(last, ast.Expr):
        body[-1] = ast.copy_location(ast.Return(value=last.value), last)
    top = _top_level(module)
    for node in top:
        if isinstance(node, (ast.Yield, ast.YieldFrom)):
            raise SyntaxError("a %%flyte run cell cannot `yield`; return a value as its last expression",
                              (filename, node.lineno, node.col_offset + 1, None))
    awaits = any(isinstance(node, (ast.Await, ast.AsyncFor, ast.AsyncWith)) for node in top)
    kind = ast.AsyncFunctionDef if awaits else ast.FunctionDef
    fields: dict[str, Any] = {"type_params": []} if "type_params" in kind._fields else {}
    func = kind(name=CELL_FUNCTION, args=ast.arguments(
        posonlyargs=[], args=[], vararg=None, kwonlyargs=[], kw_defaults=[], kwarg=None, defaults=[]),
        body=body, decorator_list=[], returns=None, **fields)
    func.lineno, func.col_offset = 1, 0
    wrapper = ast.Module(body=[func], type_ignores=[])
    ast.fix_missing_locations(wrapper)
    return wrapper


_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)


def _top_level(module: ast.Module) -> list[ast.AST]:
    """The cell's nodes outside any function, lambda or class it defines (one pass)."""
    out: list[ast.AST] = []
    stack: list[ast.AST] = list(module.body)
    while stack:
        node = stack.pop()
        out.append(node)
        if not isinstance(node, _SCOPES):
            stack.extend(ast.iter_child_nodes(node))
    return out


def cell_filename(source: str) -> str:
    """Named by content, not by execution count, so the same cell pickles to the same bytes."""
    digest = hashlib.sha256(source.encode()).hexdigest()[:12]
    return f"<flyte cell {digest}>"


def build_cell_task(shell: Any, body: str) -> Any:
    """The task whose action `a0` runs the cell. Its name is `notebook.cell`; its version, like any
    task's, follows the code, so an edited cell is a new version and an unchanged one is not."""
    import flyte_jupyter as flyte

    source = shell.transform_cell(body) if shell is not None else body
    filename = cell_filename(source)
    source, tree, dropped = portable_tree(None, source, filename)
    if dropped:
        warnings.warn(f"{', '.join(sorted(set(dropped)))} dropped from the run: magics need IPython, "
                      "which the action does not have", stacklevel=2)
    tree = _function_ast(tree, filename)
    code = compile(tree, filename, "exec")
    linecache.cache[filename] = (len(source), None, [ln + "\n" for ln in source.splitlines()], filename)
    from flyte_jupyter.kernel._errors import register_cell

    register_cell(filename, getattr(shell, "execution_count", None))
    namespace: dict[str, Any] = shell.user_ns if shell is not None else {"__name__": "__main__"}
    scope: dict[str, Any] = {}
    exec(code, namespace, scope)
    func = scope[CELL_FUNCTION]
    func.__qualname__ = CELL_FUNCTION
    func.__doc__ = f"The body of a %%flyte run cell:\n\n{source}"
    env = flyte.TaskEnvironment(ENV_NAME)
    task = env.task(func)
    # inspect.getsource cannot see the generated function: hash the cell's source for the version
    task.__dict__["_source_hash"] = hashlib.sha256(source.encode()).hexdigest()
    return task
