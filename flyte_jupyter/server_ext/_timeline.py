"""`GET /flyte/api/runs/{name}/timeline`: a run's timeline as JSON, the numbers the notebook
widget draws (`_internal/display/timeline.layout`), so the side panel shows the same bars.

Query: `max_rows` (1-5000, default 200: past it, big groups fold into one row), `bucket` (fold
groups of more than this many, default 5), `expand` (comma-separated group keys to unfold, as
`folded` lists them), `window` (`lo,hi`: seconds from the run's start to zoom into). Answers
`Timeline.to_json()` plus `text` (the critical-path summary)."""

from __future__ import annotations

import json
import math
from typing import Any

import tornado.web
from jupyter_server.auth.decorator import authorized

from flyte_jupyter.server_ext._handlers import _NAME, _FlyteHandler

MAX_ROWS = 5000
MAX_EXPAND = 200


def _int(handler: Any, key: str, default: int, lo: int, hi: int) -> int:
    text = handler.get_query_argument(key, str(default))
    if not (text.isascii() and text.isdigit() and len(text) <= 6 and lo <= int(text) <= hi):
        raise tornado.web.HTTPError(400, f"`{key}` must be a whole number from {lo} to {hi}")
    return int(text)


def _window(text: str) -> tuple[float, float] | None:
    if not text:
        return None
    parts = text.split(",")
    try:
        lo, hi = (float(p) for p in parts) if len(parts) == 2 else (math.nan, math.nan)
    except ValueError:
        lo = hi = math.nan
    if not (math.isfinite(lo) and math.isfinite(hi) and 0 <= lo < hi):
        raise tornado.web.HTTPError(400, "`window` must be `lo,hi`: seconds from the run's start, 0 <= lo < hi")
    return lo, hi


class TimelineHandler(_FlyteHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self, name: str) -> None:
        from flyte_jupyter._internal.display.timeline import layout, timeline_text
        from flyte_jupyter._internal.wire.models import ActionInfo

        max_rows = _int(self, "max_rows", 200, 1, MAX_ROWS)
        bucket = _int(self, "bucket", 5, 1, 100000)
        expand = [k for k in self.get_query_argument("expand", "").split(",") if k][:MAX_EXPAND]
        window = _window(self.get_query_argument("window", ""))
        scope = await self.scope()
        run = await self.call(self.manager.get_run(scope, name))
        actions = {a["name"]: ActionInfo.from_json(a) for a in run.get("actions", [])}
        tl = layout(name, actions, max_rows=max_rows, bucket=bucket, expand=expand, window=window)
        self.finish(json.dumps({**tl.to_json(), "phase": run.get("phase"), "text": timeline_text(tl)}))


def timeline_handlers(base: str) -> list[tuple[str, Any]]:
    from jupyter_server.utils import url_path_join

    return [(url_path_join(base, "runs", _NAME, "timeline"), TimelineHandler)]


__all__ = ["TimelineHandler", "timeline_handlers"]
