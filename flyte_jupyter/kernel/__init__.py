"""flyte_jupyter in a notebook: `%load_ext flyte_jupyter` registers

- the `%flyte` line magic and the `%%flyte run` cell magic (see `%flyte?`),
- an input transformer that turns a `%%flyte run` cell into an awaited call, so the kernel keeps
  serving widget clicks while the run goes on,
- the live run widget as the way a `Run` displays itself (`flyte.run(...)` as a cell's value),
- a custom exception handler that shows a failed run as one readable error.

Views are kept in `views()` (newest last) so a notebook or a test can read their widget models.
"""

from __future__ import annotations

import collections
import threading
from typing import Any

_open_views: "collections.deque[Any]" = collections.deque(maxlen=50)
_views_lock = threading.Lock()
_shown_in_cell: dict[str, Any] = {}
_loaded: dict[int, Any] = {}


def _has_widget_frontend(shell: Any) -> bool:
    """A kernel (ipykernel) talks to a frontend that may render widgets; a terminal shell does not."""
    if shell is None or getattr(shell, "kernel", None) is None:
        return False
    import importlib.util

    return importlib.util.find_spec("ipywidgets") is not None


def open_view(shell: Any, run: Any, *, interval: float = 0.2) -> Any:
    """Show a run live under the current cell: the widget in a kernel, text in a terminal.
    Returns the view; its `finish()` renders the final state."""
    from flyte_jupyter.kernel import _submit

    _submit.remember(run)
    if _has_widget_frontend(shell):
        from flyte_jupyter.kernel._views import RunView

        view = RunView(run, interval=interval)
        view.show()
    else:
        from flyte_jupyter.kernel._text_view import TextView

        view = TextView(run).show()
    with _views_lock:
        _open_views.append(view)
    if shell is not None:
        _shown_in_cell[run.name] = getattr(shell, "execution_count", None)
    return view


def views() -> list[Any]:
    """The views opened in this kernel, oldest first (each has `.run`, and a RunView `.tree`)."""
    with _views_lock:
        return list(_open_views)


def last_view() -> Any | None:
    with _views_lock:
        return _open_views[-1] if _open_views else None


def render_run(run: Any) -> None:
    """The renderer `flyte_jupyter._internal.display.renderer` calls when IPython displays a Run."""
    from IPython import get_ipython

    shell = get_ipython()
    count = getattr(shell, "execution_count", None)
    if shell is not None and _shown_in_cell.get(run.name, object()) == count:
        return  # this cell already shows the run live (e.g. `%flyte run` returned it)
    if not _has_widget_frontend(shell):
        from flyte_jupyter.kernel._text_view import TextView

        TextView(run).show(tree_at_end=True)  # live status lines in a terminal, then the tree
        return
    open_view(shell, run)


def load_ipython_extension(ipython: Any) -> None:
    """`%load_ext flyte_jupyter`."""
    from flyte_jupyter._internal.display import renderer as _display
    from flyte_jupyter.kernel import _errors
    from flyte_jupyter.kernel._magics import FlyteMagics, transform_cell_lines

    ipython.register_magics(FlyteMagics)
    cleanup = ipython.input_transformers_cleanup
    if transform_cell_lines not in cleanup:
        cleanup.append(transform_cell_lines)
    _errors.install(ipython)
    _display.set_renderer(render_run)
    _loaded[id(ipython)] = True


def unload_ipython_extension(ipython: Any) -> None:
    from flyte_jupyter._internal.display import renderer as _display
    from flyte_jupyter.kernel import _errors
    from flyte_jupyter.kernel._magics import transform_cell_lines

    cleanup = ipython.input_transformers_cleanup
    if transform_cell_lines in cleanup:
        cleanup.remove(transform_cell_lines)
    _errors.uninstall(ipython)
    _display.set_renderer(None)
    _loaded.pop(id(ipython), None)


__all__ = ["load_ipython_extension", "unload_ipython_extension", "open_view", "views", "last_view", "render_run"]
