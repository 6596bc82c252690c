"""The runs this kernel shows and the views that show them.

`open_view` puts a run's live view under the current cell (the widget in a kernel with a widget
frontend, text in a terminal) and keeps it in `views()`, newest last, so that a notebook or a test
can read its widget models. `render_run` is how a `Run` displays itself as a cell's value.

Its own module so that the magics and the line commands can open views without importing the
`flyte_jupyter.kernel` package back (the package imports them when the extension loads).
"""

from __future__ import annotations

import collections
import threading
from typing import Any

_open_views: "collections.deque[Any]" = collections.deque(maxlen=50)
_views_lock = threading.Lock()
_shown_in_cell: dict[str, Any] = {}


def has_widget_frontend(shell: Any) -> bool:
    """A kernel (ipykernel) talks to a frontend that may render widgets; a terminal shell does not."""
    if shell is None or getattr(shell, "kernel", None) is None:
        return False
    import importlib.util

    return importlib.util.find_spec("ipywidgets") is not None


def open_view(shell: Any, run: Any, *, interval: float = 0.2, echo_root: bool = False,
              cell_loop: Any = None) -> Any:
    """Show a run live under the current cell: the widget in a kernel, text in a terminal.
    Returns the view; its `finish()` renders the final state. `echo_root`: the root action is the
    cell's own code, whose prints go to the cell (a remote root's from `cell_loop`)."""
    from flyte_jupyter.kernel import _submit

    _submit.remember(run)
    view: Any
    if has_widget_frontend(shell):
        from flyte_jupyter.kernel._views import RunView

        view = RunView(run, interval=interval, echo_root=echo_root, cell_loop=cell_loop)
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
    if not has_widget_frontend(shell):
        from flyte_jupyter.kernel._text_view import TextView

        TextView(run).show(tree_at_end=True)  # live status lines in a terminal, then the tree
        return
    open_view(shell, run)
