"""Links a running attempt offers (the Dask plugin's cluster dashboard), read from `links.json`
beside the attempt's outputs. The backend's plugin writes the file; the run widget and the
JupyterLab panel read it, so both show the same link while the action runs and none once it ended.
"""

from __future__ import annotations

import json
import time
from typing import Any, Protocol

from flyte_jupyter._internal.runtime import storage as _storage

LINKS_FILE = "links.json"
_found: dict[str, dict[str, str]] = {}  # outputs URI (one per attempt) -> its links: they never change
_missing: dict[str, float] = {}  # outputs URI -> when it last had no links file
_CACHE_LIMIT = 4096  # entries per cache: a long-lived Jupyter server sees attempts without end


class _Action(Protocol):
    """What ActionInfo and ActionEvent both carry."""

    outputs_uri: str | None
    task_type: str
    phase: Any


def live_links(action: _Action, recheck: float = 0.0) -> dict[str, str]:
    """name -> http(s) URL of the running attempt's links; {} for python actions, ended ones, or
    an attempt with no links file (looked for again after `recheck` seconds)."""
    uri = action.outputs_uri
    if not uri or action.phase.terminal or action.task_type in ("", "python"):
        return {}
    if uri in _found:
        return _found[uri]
    if recheck and time.monotonic() - _missing.get(uri, -recheck) < recheck:
        return {}
    try:
        data: Any = json.loads(_storage.get_bytes(_storage.join(uri, LINKS_FILE)))
    except Exception:  # noqa: BLE001 - not written (yet), or unreadable: no link
        _remember(_missing, uri, time.monotonic())
        return {}
    links = {str(k): str(v) for k, v in data.items() if str(v).startswith(("http://", "https://"))} \
        if isinstance(data, dict) else {}
    _remember(_found, uri, links)
    _missing.pop(uri, None)
    return links


def _remember(cache: dict[str, Any], key: str, value: Any) -> None:
    if len(cache) >= _CACHE_LIMIT:
        cache.clear()
    cache[key] = value
