"""Where a run came from, read from its labels: a notebook and a cell of it, a script, or the panel.

The labels are set by whoever started the run, so every one is read defensively (missing, empty,
too long, a path outside the server's root: the origin is then only partly known, never an error):

- `source`: the panel's submissions name the notebook's API path here (with `task` and `inputs`);
  the kernel writes "notebook"; a script may write its path.
- `flyte-jupyter/notebook`: the notebook of a kernel's run. The kernel reads `$JPY_SESSION_NAME`,
  which jupyter_server sets to the notebook's path on disk (absolute); an API path (relative to the
  server's root) is accepted too.
- `flyte-jupyter/cell`: the cell's id in the notebook (nbformat 4.5), or `text-` and the first 20
  hex digits of the sha256 of the cell's text when the frontend sent no id.
- `flyte-jupyter/series`: the name a named cell asked for; its runs are `X`, `X-2`, ...
- `flyte-jupyter/rerun-of`: the run a re-run or a clone repeats (set by the server).

`CellIndex` finds a cell's position in its saved notebook (by id or by text digest) without running
anything; it reads each notebook once per change of the file.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path
from typing import Any

SOURCE_LABEL = "source"
TASK_LABEL = "task"
INPUTS_LABEL = "inputs"
NOTEBOOK_LABEL = "flyte-jupyter/notebook"
CELL_LABEL = "flyte-jupyter/cell"
SERIES_LABEL = "flyte-jupyter/series"
RERUN_OF_LABEL = "flyte-jupyter/rerun-of"

CELL_TASK = "notebook.cell"  # the root task of a `%%flyte run` cell
_MAX_LABEL = 4096


def _label(labels: dict[str, str], key: str) -> str | None:
    value = labels.get(key)
    if not isinstance(value, str):
        return None
    value = value.strip()
    return value if value and len(value) <= _MAX_LABEL and "\x00" not in value else None


def api_path(root_dir: str, path: str | None) -> str | None:
    """`path` as an API path under the server's root (`dir/nb.ipynb`), or None when it is not under
    it (another machine's path, another root) or is not a path at all."""
    if not path:
        return None
    try:
        root = Path(root_dir or ".").resolve()
        candidate = Path(path)
        full = (candidate if candidate.is_absolute() else root / path.lstrip("/")).resolve()
    except (OSError, ValueError, RuntimeError):
        return None
    if full == root or root not in full.parents:
        return None
    return full.relative_to(root).as_posix()


def origin_of(labels: dict[str, str] | None, task: str | None, root_dir: str) -> dict[str, Any]:
    """The run's origin for the panel:

    {"kind": "notebook" | "cell" | "script" | "unknown", "notebook": API path or None (only a path
    this server can open), "notebook_name": the file name (also for a notebook elsewhere),
    "cell": the cell key or None, "script": a script's path or None, "series": the series name or None,
    "rerun_of": a run name or None, "panel": whether the panel submitted it (re-run from the notebook),
    "trigger": {"name", "task", "time"} of the schedule that started it, or None}
    """
    labels = dict(labels or {})
    source = _label(labels, SOURCE_LABEL)
    notebook_raw = _label(labels, NOTEBOOK_LABEL)
    cell = _label(labels, CELL_LABEL)
    panel = bool(source and source.endswith(".ipynb") and _label(labels, TASK_LABEL) and INPUTS_LABEL in labels)
    if notebook_raw is None and source and source.endswith(".ipynb"):
        notebook_raw = source
    script = source if source and source.endswith(".py") else None
    if task == CELL_TASK:
        kind = "cell"
    elif notebook_raw or source == "notebook":
        kind = "notebook"
    elif script:
        kind = "script"
    else:
        kind = "unknown"
    return {
        "kind": kind,
        "notebook": api_path(root_dir, notebook_raw),
        "notebook_name": os.path.basename(notebook_raw) if notebook_raw else None,
        "cell": cell,
        "script": script,
        "series": _label(labels, SERIES_LABEL),
        "rerun_of": _label(labels, RERUN_OF_LABEL),
        "panel": panel,
        "trigger": _trigger_of(labels),
    }


def _trigger_of(labels: dict[str, str]) -> dict[str, Any] | None:
    """{"name", "task", "time"} of a run a trigger started (backend/scheduler.py labels it), else None:
    the panel groups a schedule's runs under it."""
    from flyte_jupyter._internal.runtime.naming import TRIGGER_LABEL, TRIGGER_TASK_LABEL, TRIGGER_TIME_LABEL

    name = _label(labels, TRIGGER_LABEL)
    if name is None:
        return None
    return {"name": name, "task": _label(labels, TRIGGER_TASK_LABEL), "time": _label(labels, TRIGGER_TIME_LABEL)}


def text_key(source: str) -> str:
    """The key the kernel gives a cell it knows no id of (see kernel/_magics.current_cell_key)."""
    return "text-" + hashlib.sha256(source.encode()).hexdigest()[:20]


class CellIndex:
    """Cell keys -> 1-based cell positions (counting every cell, as the user sees them), per notebook,
    read again only when the file changes. Notebooks over `max_bytes` are not read."""

    def __init__(self, max_bytes: int = 0, max_entries: int = 64) -> None:
        self.max_bytes = max_bytes
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[tuple[int, int], dict[str, int]]] = {}

    def position(self, os_path: Path, key: str | None) -> int | None:
        """Blocking (reads the file): call it in a thread."""
        if not key:
            return None
        index = self._index(os_path)
        return index.get(key) if index is not None else None

    def _index(self, os_path: Path) -> dict[str, int] | None:
        try:
            st = os_path.stat()
        except (OSError, ValueError):
            return None
        if self.max_bytes and st.st_size > self.max_bytes:
            return None
        stamp = (st.st_mtime_ns, st.st_size)
        name = str(os_path)
        with self._lock:
            cached = self._cache.get(name)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        index = _read_index(os_path)
        if index is None:
            return None
        with self._lock:
            if len(self._cache) >= self.max_entries:
                self._cache.pop(next(iter(self._cache)))
            self._cache[name] = (stamp, index)
        return index


def _read_index(os_path: Path) -> dict[str, int] | None:
    try:
        with open(os_path, encoding="utf-8") as f:
            nb = json.load(f)
    except (OSError, ValueError, RecursionError, UnicodeDecodeError):
        return None
    cells = nb.get("cells") if isinstance(nb, dict) else None
    if not isinstance(cells, list):
        return None
    index: dict[str, int] = {}
    for number, cell in enumerate(cells, start=1):
        if not isinstance(cell, dict):
            continue
        cell_id = cell.get("id")
        if isinstance(cell_id, str) and cell_id:
            index.setdefault(cell_id, number)
        source = cell.get("source")
        if isinstance(source, list) and all(isinstance(s, str) for s in source):
            source = "".join(source)
        if isinstance(source, str) and cell.get("cell_type") == "code":
            index.setdefault(text_key(source), number)
    return index
