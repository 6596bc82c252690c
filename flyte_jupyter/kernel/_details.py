"""What an expanded node shows: its inputs and outputs (tables, images and long strings at a
glance, see `_values`), every attempt (its error, times, the backoff before the next, and its
last lines), the failure at its root with the path it came up through, and the tail of its log,
with its full log one click away.

A local run's values are in memory (the root's outputs, the inputs and outputs the controller
recorded) and its output is what the run's `RunOutput` captured (`_streams`). A remote run's
values are read from storage through the run's client, on the views loop; its log lines come from
the RunOutput the view's follower fills, else from the backend (`TailLogs`), refetched while the
action runs.
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
from typing import Any

from flyte_jupyter._internal.display.labels import short_task
from flyte_jupyter._internal.wire.models import ActionInfo
from flyte_jupyter.kernel._errors import clean_traceback, error_summary
from flyte_jupyter.kernel._format import duration_text, esc
from flyte_jupyter.kernel._values import literal_too_big, value_html

LOG_TAIL_LINES = 40
ATTEMPT_TAIL_LINES = 6
FULL_LOG_LINES = 20000


@dataclasses.dataclass
class Details:
    inputs: dict[str, str] | None = None  # name -> HTML
    outputs: str | None = None  # HTML
    logs: list[str] | None = None
    printed: int | None = None  # lines the action printed (when known)
    attempt_logs: dict[int, list[str]] = dataclasses.field(default_factory=dict)
    note: str | None = None
    full_log: list[str] | None = None
    full_log_note: str | None = None


async def fetch(run: Any, info: ActionInfo, output: Any = None, previous: Details | None = None) -> Details:
    """Gather the details of one action; never raises (a failure becomes the note)."""
    try:
        client = getattr(run, "client", None)
        if client is not None and getattr(run, "mode", "") == "remote":
            det = await _fetch_remote(run, client, info, output, previous)
        else:
            det = _local(run, info, output)
    except Exception as exc:  # details are best effort: the tree must keep rendering
        det = Details(note=f"details unavailable: {type(exc).__name__}: {exc}")
    if previous is not None and previous.full_log is not None:
        det.full_log, det.full_log_note = previous.full_log, previous.full_log_note
    return det


def _local(run: Any, info: ActionInfo, output: Any) -> Details:
    det = Details()
    if info.inputs is not None:
        det.inputs = {k: value_html(v) for k, v in info.inputs.items()}
    if info.outputs is not None:
        det.outputs = value_html(info.outputs)
    elif info.name == "a0" and info.phase.succeeded:
        future = getattr(run, "_future", None)
        if future is not None and future.done() and not future.cancelled() and future.exception() is None:
            det.outputs = value_html(future.result())
    _logs_from_output(det, info, output)
    if det.logs is None:
        det.note = "this action printed nothing that this view captured"
    return det


def _logs_from_output(det: Details, info: ActionInfo, output: Any) -> None:
    if output is None:
        return
    lines = output.lines_of(info.name)
    if lines:
        det.logs = lines[-LOG_TAIL_LINES:]
        det.printed = output.counts().get(info.name)
    if info.attempts > 1:
        for number in range(1, info.attempts + 1):
            mine = output.lines_of(info.name, number)
            if mine:
                det.attempt_logs[number] = mine[-ATTEMPT_TAIL_LINES:]


async def _fetch_remote(run: Any, client: Any, info: ActionInfo, output: Any, previous: Details | None) -> Details:
    from flyte_jupyter._internal.client.calls import (
        acall,  # the remote side's loop owns the channel
    )

    det = Details()
    project = getattr(run, "project", None)
    domain = getattr(run, "domain", None)
    if previous is not None and previous.inputs is not None and previous.outputs is not None:
        det.inputs, det.outputs = previous.inputs, previous.outputs  # values do not change
    else:
        try:
            detail = await acall(lambda: client.get_action(run.name, info.name, project=project, domain=domain))
            det.inputs, det.outputs = await _remote_values(detail, info)
        except Exception as exc:
            det.note = f"inputs/outputs unavailable: {exc}"

    _logs_from_output(det, info, output)
    if det.logs is None:
        async def tail(attempt: int = 0, keep: int = LOG_TAIL_LINES) -> list[str]:
            lines: list[str] = []
            async for line in client.tail_logs(run.name, info.name, attempt=attempt, follow=False,
                                               project=project, domain=domain):
                lines.append(line.text.rstrip("\n"))
                if len(lines) > 4 * keep:
                    del lines[: len(lines) - keep]
            return lines[-keep:]

        try:
            det.logs = await acall(tail) or None
            if info.attempts > 1:
                for number in range(1, info.attempts + 1):
                    known = previous.attempt_logs.get(number) if previous is not None else None
                    if known is None and (number < info.attempts or info.phase.terminal):
                        known = await acall(functools.partial(tail, number, ATTEMPT_TAIL_LINES))
                    if known:
                        det.attempt_logs[number] = known
        except Exception as exc:
            det.note = (det.note + "; " if det.note else "") + f"logs unavailable: {exc}"
    return det


async def _remote_values(detail: Any, info: ActionInfo) -> tuple[dict[str, str] | None, str | None]:
    """Decode the action's stored inputs and outputs (typed literals) into HTML."""
    import asyncio

    def read() -> tuple[dict[str, str] | None, str | None]:
        from flyte_jupyter._internal import types as _serde
        from flyte_jupyter._internal.runtime import storage as _storage
        from flyte_jupyter._internal.wire.proto import literals_pb2

        inputs = outputs = None
        if detail.inputs_uri and _storage.exists(detail.inputs_uri):
            lm = literals_pb2.LiteralMap()
            lm.ParseFromString(_storage.get_bytes(detail.inputs_uri))
            inputs = {k: _decoded_html(_serde, v) for k, v in sorted(lm.literals.items()) if not k.startswith("_")}
        if detail.outputs_uri and info.phase.succeeded:
            uri = detail.outputs_uri
            if not uri.endswith(".pb"):
                uri = _storage.join(uri, "outputs.pb")
            if _storage.exists(uri):
                lm = literals_pb2.LiteralMap()
                lm.ParseFromString(_storage.get_bytes(uri))
                if list(lm.literals) == ["o0"]:
                    outputs = _decoded_html(_serde, lm.literals["o0"])
                else:
                    outputs = "".join(f"<div><code>{esc(k)}</code> {_decoded_html(_serde, v)}</div>"
                                      for k, v in sorted(lm.literals.items()))
        return inputs, outputs

    return await asyncio.to_thread(read)


def _decoded_html(serde: Any, literal: Any) -> str:
    big = literal_too_big(literal)
    if big is not None:
        return f'<span style="opacity:.7">{esc(big)}</span>'
    try:
        return value_html(serde.from_literal(literal, Any))
    except Exception as exc:
        return f'<span style="opacity:.7">(could not be read here: {esc(type(exc).__name__)})</span>'


async def fetch_full_log(run: Any, info: ActionInfo, output: Any) -> tuple[list[str], str | None]:
    """Every line the action printed (its latest attempt on a backend; every attempt locally),
    at most FULL_LOG_LINES (the latest), and a note when that is not all of it."""
    client = getattr(run, "client", None)
    if client is not None and getattr(run, "mode", "") == "remote":
        from flyte_jupyter._internal.client.calls import acall

        async def everything() -> tuple[list[str], int]:
            lines: list[str] = []
            total = 0
            async for line in client.tail_logs(run.name, info.name, follow=False,
                                               project=getattr(run, "project", None),
                                               domain=getattr(run, "domain", None)):
                lines.append(line.text.rstrip("\n"))
                total += 1
                if len(lines) > 2 * FULL_LOG_LINES:
                    del lines[: len(lines) - FULL_LOG_LINES]
            return lines[-FULL_LOG_LINES:], total

        lines, total = await acall(everything)
        note = f"the latest {len(lines):,} of {total:,} lines" if total > len(lines) else None
        if info.attempts > 1:
            note = (note + "; " if note else "") + f"attempt {info.attempts} (earlier attempts: `%flyte logs " \
                f"{run.name} {info.name} --attempt N`)"
        return lines, note
    if output is None:
        return [], "nothing was captured for this action"
    lines, complete = output.full_log(info.name)
    total = len(lines)
    lines = lines[-FULL_LOG_LINES:]
    notes = []
    if total > len(lines):
        notes.append(f"the latest {len(lines):,} of {total:,} lines (all: `%flyte logs {run.name} {info.name}`)")
    if not complete:
        notes.append("only the latest lines were kept")
    return lines, "; ".join(notes) or None


def _when(ts: float | None) -> str:
    return datetime.datetime.fromtimestamp(ts).strftime("%H:%M:%S") if ts else "?"


def attempts_html(attempts: list[Any], det: Details | None) -> str:
    """Every attempt: how it ended, when, for how long, its error, the backoff, its last lines."""
    rows = []
    for att in attempts:
        took = duration_text(att.duration, live=att.ended_at is None) if att.started_at else ""
        error = ""
        if att.error is not None:
            summary, _ = error_summary(att.error)
            error = f'<div style="color:#c62828">{esc(summary)}</div>'
        elif att.phase == "?":
            error = '<div style="opacity:.7">(not seen by this view: its error and times are unknown)</div>'
        backoff = (f'<div style="opacity:.7">waited {esc(duration_text(att.backoff))} before attempt '
                   f'{att.number + 1}</div>' if att.backoff is not None else "")
        lines = det.attempt_logs.get(att.number) if det is not None else None
        log = (f'<pre class="flyte-attempt-log" style="font-size:11px;margin:2px 0;max-height:8em;overflow:auto">'
               f'{esc(chr(10).join(lines))}</pre>' if lines else "")
        phase = att.phase if att.phase != "?" else "ended"
        rows.append(f'<div class="flyte-attempt" data-attempt="{att.number}" data-phase="{esc(att.phase)}" '
                    f'style="margin:2px 0 4px 0"><b>attempt {att.number}</b> {esc(phase)}'
                    f'{" · started " + _when(att.started_at) if att.started_at else ""}'
                    f'{" · " + esc(took) if took else ""}{error}{log}{backoff}</div>')
    return '<div class="flyte-attempts"><b>attempts</b>' + "".join(rows) + "</div>"


def cost_html(info: ActionInfo) -> str:
    """CPU seconds and peak memory of every measured attempt (the backend records them per attempt;
    a plugin without metrics records none)."""
    from flyte_jupyter._internal.display.timeline import memory_text, seconds_text

    measured = [u for u in info.usage if u.cpu_seconds is not None or u.peak_memory_bytes is not None]
    if not measured:
        return ""
    each = " · ".join(f"attempt {u.attempt}: CPU {esc(seconds_text(u.cpu_seconds))}, peak memory "
                      f"{esc(memory_text(u.peak_memory_bytes))}" for u in measured)
    return f'<div class="flyte-cost"><b>cost</b> {each}</div>'


def details_html(info: ActionInfo, det: Details | None, *, label: str | None = None,
                 attempts: list[Any] | None = None, below: list[str] | None = None) -> str:
    """The expanded panel of one node."""
    parts = [f'<div class="flyte-details" data-action="{esc(info.name)}" '
             f'style="font-size:12px;border-left:2px solid var(--jp-border-color2,#ccc);padding-left:8px">']
    facts = [f"<b>{esc(label or short_task(info.task))}</b>", f"action <code>{esc(info.name)}</code>",
             f"task <code>{esc(info.task)}</code>", f"attempt {max(info.attempts, 1)}"]
    if info.cache_hit:
        facts.append("cache hit")
    if info.recovered_from:
        facts.append(f"recovered from <code>{esc(info.recovered_from)}</code> (did not run)")
    parts.append("<div>" + " · ".join(facts) + "</div>")
    cost = cost_html(info)
    if cost:
        parts.append(cost)
    if det is None:
        parts.append('<div style="opacity:.7">loading…</div>')
    else:
        if det.inputs:
            rows = "".join(f"<tr><td style='vertical-align:top'><code>{esc(k)}</code></td><td>{v}</td></tr>"
                           for k, v in det.inputs.items())
            parts.append(f"<div><b>inputs</b><table>{rows}</table></div>")
        if det.outputs is not None:
            parts.append(f'<div class="flyte-outputs"><b>outputs</b> {det.outputs}</div>')
    if attempts and len(attempts) > 1:
        parts.append(attempts_html(attempts, det))
    if info.error is not None and not info.phase.succeeded:
        summary, chain = error_summary(info.error)
        parts.append(f'<div style="color:#c62828"><b>error</b> {esc(summary)}</div>')
        via = " › ".join(below) if below else " › ".join(f"{short_task(task)} [{action}]" for action, task in chain)
        if via:
            parts.append(f'<div class="flyte-failure-path" style="opacity:.8">came up from {esc(via)}</div>')
        tb = clean_traceback(info.error.traceback)
        if tb:
            parts.append(f'<pre style="font-size:11px;max-height:16em;overflow:auto">{esc(tb)}</pre>')
    if det is not None and det.full_log is not None:
        head = f'<b>full log</b> ({len(det.full_log):,} lines{"; " + esc(det.full_log_note) if det.full_log_note else ""})'
        parts.append(f'<div>{head}</div><pre class="flyte-log flyte-full-log" '
                     'style="font-size:11px;max-height:30em;overflow:auto">' + esc("\n".join(det.full_log)) + "</pre>")
    elif det is not None and det.logs:
        more = f", of {det.printed:,} printed" if det.printed and det.printed > len(det.logs) else ""
        parts.append(f'<div><b>log</b> (last {len(det.logs)} lines{more})</div><pre class="flyte-log" '
                     'style="font-size:11px;max-height:16em;overflow:auto">' + esc("\n".join(det.logs)) + "</pre>")
    if det is not None and det.note:
        parts.append(f'<div style="opacity:.7">{esc(det.note)}</div>')
    parts.append("</div>")
    return "".join(parts)
