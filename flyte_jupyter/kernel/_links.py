"""A row's task type tag (for types other than python) and, while a Dask action runs, the link to
its cluster's dashboard (the backend's Dask plugin writes `links.json` beside the attempt's outputs)."""

from __future__ import annotations

import json
import time
from typing import Any

from flyte_jupyter._internal.runtime import storage as _storage
from flyte_jupyter._internal.wire.models import ActionInfo
from flyte_jupyter.kernel._format import esc

LINKS_FILE = "links.json"
_RECHECK = 2.0  # seconds between looks for a links file not written yet
_found: dict[str, dict[str, str]] = {}
_missing: dict[str, float] = {}


def links_of(info: ActionInfo) -> dict[str, str]:
    """name -> URL of the running attempt's links ({} when it has none, or has ended)."""
    uri = info.outputs_uri
    if not uri or info.phase.terminal or info.task_type == "python":
        return {}
    if uri in _found:
        return _found[uri]
    if time.monotonic() - _missing.get(uri, -_RECHECK) < _RECHECK:
        return {}
    try:
        data: Any = json.loads(_storage.get_bytes(_storage.join(uri, LINKS_FILE)))
    except Exception:  # noqa: BLE001 - not written (yet), or unreadable: no link
        _missing[uri] = time.monotonic()
        return {}
    links = {str(k): str(v) for k, v in data.items() if str(v).startswith(("http://", "https://"))} \
        if isinstance(data, dict) else {}
    _found[uri] = links
    return links


def type_tag_html(info: ActionInfo) -> str:
    """` [sql]`-style tag, plus the links, for rows of a plugin's type; "" for python rows."""
    if info.task_type in ("", "python"):
        return ""
    links = "".join(f' <a href="{esc(url)}" target="_blank" rel="noopener" class="flyte-link">{esc(name)}</a>'
                    for name, url in links_of(info).items())
    return (f' <span class="flyte-type" style="font-size:10px;padding:0 4px;border-radius:3px;'
            f'border:1px solid currentColor;opacity:.7">{esc(info.task_type)}</span>{links}')
