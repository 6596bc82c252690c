"""What an expanded node shows: inputs, outputs, error and the tail of its log.

For a local run the values are in memory (the root's outputs, inputs and outputs the controller
recorded); its actions print straight into the kernel's output, so there is no separate log. For a
remote run they are fetched from the backend through the run's client, on the views loop, and the
log tail is refetched while the action runs.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from flyte_jupyter._internal.wire.models import ActionInfo
from flyte_jupyter.kernel._errors import clean_traceback
from flyte_jupyter.kernel._format import esc, short_repr

LOG_TAIL_LINES = 40


@dataclasses.dataclass
class Details:
    inputs: dict[str, str] | None = None
    outputs: str | None = None
    logs: list[str] | None = None
    note: str | None = None


async def fetch(run: Any, info: ActionInfo) -> Details:
    """Gather the details of one action; never raises (a failure becomes the note)."""
    try:
        client = getattr(run, "client", None)
        if client is not None and getattr(run, "mode", "") == "remote":
            return await _fetch_remote(run, client, info)
        return _local(run, info)
    except Exception as exc:  # details are best effort: the tree must keep rendering
        return Details(note=f"details unavailable: {type(exc).__name__}: {exc}")


def _local(run: Any, info: ActionInfo) -> Details:
    det = Details(note="local run: the action prints into this kernel's output")
    if info.inputs is not None:
        det.inputs = {k: short_repr(v) for k, v in info.inputs.items()}
    if info.outputs is not None:
        det.outputs = short_repr(info.outputs)
    elif info.name == "a0" and info.phase.value == "SUCCEEDED":
        future = getattr(run, "_future", None)
        if future is not None and future.done() and not future.cancelled() and future.exception() is None:
            det.outputs = short_repr(future.result())
    return det


async def _fetch_remote(run: Any, client: Any, info: ActionInfo) -> Details:
    from flyte_jupyter._internal.client.calls import (
        acall,  # the remote side's loop owns the channel
    )

    det = Details()
    project = getattr(run, "project", None)
    domain = getattr(run, "domain", None)
    try:
        detail = await acall(lambda: client.get_action(run.name, info.name, project=project, domain=domain))
        det.inputs, det.outputs = await _remote_values(detail, info)
    except Exception as exc:
        det.note = f"inputs/outputs unavailable: {exc}"

    async def tail() -> list[str]:
        lines: list[str] = []
        async for line in client.tail_logs(run.name, info.name, follow=False, project=project, domain=domain):
            lines.append(line.text.rstrip("\n"))
            if len(lines) > 4 * LOG_TAIL_LINES:
                del lines[: len(lines) - LOG_TAIL_LINES]
        return lines[-LOG_TAIL_LINES:]

    try:
        det.logs = await acall(tail)
    except Exception as exc:
        det.note = (det.note + "; " if det.note else "") + f"logs unavailable: {exc}"
    return det


async def _remote_values(detail: Any, info: ActionInfo) -> tuple[dict[str, str] | None, str | None]:
    """Decode the action's stored inputs and outputs (typed literals) into short reprs."""
    import asyncio

    def read() -> tuple[dict[str, str] | None, str | None]:
        from flyte_jupyter._internal import types as _serde
        from flyte_jupyter._internal.runtime import storage as _storage
        from flyte_jupyter._internal.wire.proto import literals_pb2

        inputs = outputs = None
        if detail.inputs_uri and _storage.exists(detail.inputs_uri):
            lm = literals_pb2.LiteralMap()
            lm.ParseFromString(_storage.get_bytes(detail.inputs_uri))
            inputs = {k: short_repr(_decode(_serde, v)) for k, v in lm.literals.items()}
        if detail.outputs_uri and info.phase.value == "SUCCEEDED":
            uri = detail.outputs_uri
            if not uri.endswith(".pb"):
                uri = _storage.join(uri, "outputs.pb")
            if _storage.exists(uri):
                lm = literals_pb2.LiteralMap()
                lm.ParseFromString(_storage.get_bytes(uri))
                values = {k: _decode(_serde, v) for k, v in lm.literals.items()}
                outputs = short_repr(values["o0"] if list(values) == ["o0"] else values)
        return inputs, outputs

    return await asyncio.to_thread(read)


def _decode(serde: Any, literal: Any) -> Any:
    try:
        return serde.from_literal(literal, Any)
    except Exception:
        return "<value>"


def details_html(info: ActionInfo, det: Details | None) -> str:
    """The expanded panel of one node."""
    parts = [f'<div class="flyte-details" data-action="{esc(info.name)}" '
             f'style="font-size:12px;border-left:2px solid var(--jp-border-color2,#ccc);padding-left:8px">']
    facts = [f"action <code>{esc(info.name)}</code>", f"task <code>{esc(info.task)}</code>",
             f"attempt {max(info.attempts, 1)}"]
    if info.cache_hit:
        facts.append("cache hit")
    parts.append("<div>" + " · ".join(facts) + "</div>")
    if det is None:
        parts.append('<div style="opacity:.7">loading…</div>')
    else:
        if det.inputs:
            rows = "".join(f"<tr><td><code>{esc(k)}</code></td><td><code>{esc(v)}</code></td></tr>"
                           for k, v in det.inputs.items())
            parts.append(f"<div><b>inputs</b><table>{rows}</table></div>")
        if det.outputs is not None:
            parts.append(f"<div><b>outputs</b> <code>{esc(det.outputs)}</code></div>")
    if info.error is not None:
        tb = clean_traceback(info.error.traceback)
        parts.append(f'<div style="color:#c62828"><b>error</b> {esc(str(info.error))}</div>')
        if tb:
            parts.append(f'<pre style="font-size:11px;max-height:16em;overflow:auto">{esc(tb)}</pre>')
    if det is not None and det.logs:
        parts.append('<div><b>log</b> (last lines)</div><pre class="flyte-log" '
                     'style="font-size:11px;max-height:16em;overflow:auto">' + esc("\n".join(det.logs)) + "</pre>")
    if det is not None and det.note:
        parts.append(f'<div style="opacity:.7">{esc(det.note)}</div>')
    parts.append("</div>")
    return "".join(parts)
