"""flyte_jupyter in a notebook: `%load_ext flyte_jupyter` registers

- the `%flyte` line magic and the `%%flyte run` cell magic (see `%flyte?`),
- an input transformer that turns a `%%flyte run` cell into an awaited call, so the kernel keeps
  serving widget clicks while the run goes on,
- the live run widget as the way a `Run` displays itself (`flyte.run(...)` as a cell's value),
- a custom exception handler that shows a failed run as one readable error,
- a `pre_run_cell` hook that notes which cell runs (a named run's series belongs to its cell),
- a watch on the shell's `exit_now` (set when the kernel shuts down or restarts) that tells every
  live run widget it is being disconnected, before the kernel goes.

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
    from flyte_jupyter.kernel._magics import FlyteMagics, remember_cell, transform_cell_lines

    ipython.register_magics(FlyteMagics)
    cleanup = ipython.input_transformers_cleanup
    if transform_cell_lines not in cleanup:
        cleanup.append(transform_cell_lines)
    _errors.install(ipython)
    _display.set_renderer(render_run)
    if id(ipython) not in _loaded:
        ipython.events.register("pre_run_cell", remember_cell)
        if hasattr(ipython, "observe"):
            ipython.observe(_on_exit_now, names="exit_now")
    _loaded[id(ipython)] = True


def _on_exit_now(change: Any) -> None:
    """The kernel is shutting down (or restarting): its live widgets stop here; say so in them."""
    if not change.get("new"):
        return
    try:
        from flyte_jupyter.kernel._views import disconnect_all

        if disconnect_all():
            import sys
            import time

            for stream in (sys.stdout, sys.stderr):
                try:
                    stream.flush()
                except Exception:
                    pass
            time.sleep(0.2)  # let the IOPub thread send the updates before the process goes
    except Exception:
        pass


def unload_ipython_extension(ipython: Any) -> None:
    from flyte_jupyter._internal.display import renderer as _display
    from flyte_jupyter.kernel import _errors
    from flyte_jupyter.kernel._magics import remember_cell, transform_cell_lines

    cleanup = ipython.input_transformers_cleanup
    if transform_cell_lines in cleanup:
        cleanup.remove(transform_cell_lines)
    _errors.uninstall(ipython)
    _display.set_renderer(None)
    if _loaded.pop(id(ipython), None) is not None:
        try:
            ipython.events.unregister("pre_run_cell", remember_cell)
        except ValueError:
            pass
        if hasattr(ipython, "unobserve"):
            try:
                ipython.unobserve(_on_exit_now, names="exit_now")
            except ValueError:
                pass


__all__ = ["load_ipython_extension", "unload_ipython_extension", "open_view", "views", "last_view", "render_run"]
