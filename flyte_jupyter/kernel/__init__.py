"""flyte_jupyter in a notebook: `%load_ext flyte_jupyter` registers

- the `%flyte` line magic and the `%%flyte run` cell magic (see `%flyte?`),
- an input transformer that turns a `%%flyte run` cell into an awaited call, so the kernel keeps
  serving widget clicks while the run goes on,
- the live run widget as the way a `Run` displays itself (`flyte.run(...)` as a cell's value),
- a custom exception handler that shows a failed run as one readable error.

Views are kept in `views()` (newest last) so a notebook or a test can read their widget models.
"""

from __future__ import annotations

from typing import Any

# The views and the renderer live in their own module: the magics and the line commands use them
# too, and no module of this package imports the package itself back.
from flyte_jupyter.kernel._registry import last_view, open_view, render_run, views

_loaded: dict[int, Any] = {}


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
