"""A row's task type tag (for types other than python) and, while a Dask action runs, the link to
its cluster's dashboard (`_internal/runtime/action_links`)."""

from __future__ import annotations

from flyte_jupyter._internal.runtime.action_links import live_links
from flyte_jupyter._internal.wire.models import ActionInfo
from flyte_jupyter.kernel._format import esc

_RECHECK = 2.0  # seconds between looks for a links file not written yet (the widget redraws often)


def links_of(info: ActionInfo) -> dict[str, str]:
    """name -> URL of the running attempt's links ({} when it has none, or has ended)."""
    return live_links(info, recheck=_RECHECK)


def type_tag_html(info: ActionInfo) -> str:
    """` [sql]`-style tag, plus the links, for rows of a plugin's type; "" for python rows."""
    if info.task_type in ("", "python"):
        return ""
    links = "".join(f' <a href="{esc(url)}" target="_blank" rel="noopener" class="flyte-link">{esc(name)}</a>'
                    for name, url in links_of(info).items())
    return (f' <span class="flyte-type" style="font-size:10px;padding:0 4px;border-radius:3px;'
            f'border:1px solid currentColor;opacity:.7">{esc(info.task_type)}</span>{links}')
