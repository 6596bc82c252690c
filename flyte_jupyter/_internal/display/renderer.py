"""Who draws a Run when IPython displays it.

The SDK never imports the notebook layer (`flyte_jupyter.kernel`), yet `flyte.run(...)` as the last
line of a cell should show the same live widget that `%%flyte run` shows. So the SDK only keeps a
slot for a renderer here: the kernel package fills it when its IPython extension loads, and, so
that no `%load_ext` is needed, a renderer advertised by an installed package under the entry-point
group `flyte_jupyter.display` is loaded the first time IPython displays a Run. With neither, a Run
shows as its text tree, which is also what a terminal gets.
"""

from __future__ import annotations

import threading
from typing import Any, Callable

ENTRY_POINT_GROUP = "flyte_jupyter.display"

Renderer = Callable[[Any], None]

_lock = threading.Lock()
_renderer: Renderer | None = None
_looked_up = False


def set_renderer(renderer: Renderer | None) -> None:
    """Install (or with None remove) the function that displays a Run in IPython."""
    global _renderer, _looked_up
    with _lock:
        _renderer = renderer
        _looked_up = True


def get_renderer() -> Renderer | None:
    """The installed renderer; on first use, one advertised by an installed package if any."""
    global _renderer, _looked_up
    with _lock:
        if _renderer is not None or _looked_up:
            return _renderer
        _looked_up = True
    found = _from_entry_points()
    with _lock:
        if _renderer is None:
            _renderer = found
        return _renderer


def _from_entry_points() -> Renderer | None:
    try:
        from importlib.metadata import entry_points

        for ep in entry_points(group=ENTRY_POINT_GROUP):
            try:
                return ep.load()
            except Exception:  # a broken plug-in must not break displaying a run
                continue
    except Exception:
        return None
    return None


def display_run(run: Any) -> None:
    """IPython's `_ipython_display_` for a Run: the registered view, else the text tree."""
    renderer = get_renderer()
    if renderer is not None:
        try:
            renderer(run)
            return
        except Exception:  # fall back to text rather than hide the run
            pass
    print(run.tree_text())


def mimebundle(run: Any) -> dict[str, str]:
    """The text rendering, for frontends that ask for a mimebundle without IPython's display hook."""
    return {"text/plain": run.tree_text()}
