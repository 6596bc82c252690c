"""What the `%flyte` line commands do (runs, status, logs, abort, connect, backend).

Runs started or shown in this kernel are known by name; other runs are looked up on the backend
(the configured one, or the embedded one when it is running; listing never starts a backend).
"""

from __future__ import annotations

import datetime
import time
from typing import Any

from flyte_jupyter import _config
from flyte_jupyter.kernel import _submit
from flyte_jupyter.kernel._errors import CellError
from flyte_jupyter.kernel._format import duration_text, esc, phase_badge

# -- the backend -----------------------------------------------------------------------------------


def _embedded() -> Any:
    try:
        from flyte_jupyter._internal.client import embedded as _embedded  # type: ignore[attr-defined]
    except ImportError as exc:
        raise CellError(f"the embedded backend is not available in this installation ({exc})") from None
    return _embedded


def _client(required: bool = True) -> Any:
    """A client of the configured backend, else of the embedded backend if it runs, else None
    (looking at runs never starts a backend)."""
    try:
        from flyte_jupyter._internal.client.resolve import resolve_client
        from flyte_jupyter.errors import NoBackendError
    except ImportError as exc:
        if required:
            raise CellError(f"the backend client is not available ({exc})") from None
        return None
    try:
        return resolve_client(start=False)
    except NoBackendError as exc:
        if required:
            raise CellError(f"{exc}; or `%flyte connect CONFIG_OR_ENDPOINT`") from None
        return None


def _sync(make_coro: Any, timeout: float | None = 60.0) -> Any:
    """Run a client call on the remote side's loop (which owns the gRPC channel)."""
    from flyte_jupyter._internal.client.calls import call

    return call(make_coro, timeout)


# -- runs ------------------------------------------------------------------------------------------


def _when(ts: float | None) -> str:
    if not ts:
        return ""
    return datetime.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")


def list_runs(limit: int = 20) -> list[dict[str, Any]]:
    """Display the runs, newest first; returns them as rows."""
    from IPython.display import display

    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    for run in _submit.known_runs():
        root = run.root
        done, total = run.state.counts()
        rows.append({"name": run.name, "mode": run.mode, "phase": run.phase.value,
                     "task": root.task if root else getattr(run.task, "name", ""),
                     "started": root.started_at if root else None,
                     "duration": root.duration if root else None, "actions": f"{done}/{total}"})
        seen.add(run.name)
    note = ""
    client = _client(required=False)
    if client is not None:
        try:
            for summary in _sync(lambda: client.list_runs(limit=limit)):
                if summary.name in seen:
                    continue
                ended = summary.ended_at
                rows.append({"name": summary.name, "mode": "remote", "phase": summary.phase.value,
                             "task": summary.task, "started": summary.created_at,
                             "duration": ((ended or time.time()) - summary.created_at) if summary.created_at else None,
                             "actions": str(summary.action_count)})
        except Exception as exc:
            note = f"backend at {client.endpoint} not reachable: {exc}"
    rows.sort(key=lambda r: r["started"] or 0.0, reverse=True)
    rows = rows[:limit]
    text = _runs_text(rows) + (f"\n({note})" if note else "")
    display({"text/html": _runs_html(rows, note), "text/plain": text}, raw=True)
    return rows


def _runs_text(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "no runs yet"
    lines = [f"{'run':<28} {'mode':<7} {'phase':<10} {'task':<28} {'started':<19} {'took':>7} actions"]
    for r in rows:
        lines.append(f"{r['name']:<28} {r['mode']:<7} {r['phase']:<10} {r['task'][:28]:<28} "
                     f"{_when(r['started']):<19} {duration_text(r['duration']):>7} {r['actions']}")
    return "\n".join(lines)


def _runs_html(rows: list[dict[str, Any]], note: str) -> str:
    if not rows:
        return "<i>no runs yet</i>"
    head = "".join(f"<th style='text-align:left'>{h}</th>" for h in
                   ("run", "mode", "phase", "task", "started", "took", "actions"))
    body = "".join(
        f"<tr class='flyte-run-row' data-run='{esc(r['name'])}'><td><code>{esc(r['name'])}</code></td>"
        f"<td>{esc(r['mode'])}</td><td>{phase_badge(r['phase'])}</td><td>{esc(r['task'])}</td>"
        f"<td>{esc(_when(r['started']))}</td><td>{esc(duration_text(r['duration']))}</td>"
        f"<td>{esc(r['actions'])}</td></tr>" for r in rows)
    foot = f"<div style='opacity:.7'>{esc(note)}</div>" if note else ""
    return f"<table class='flyte-runs'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{foot}"


def _attach(name: str) -> Any | None:
    """A live RemoteRun for a run this kernel did not start (it follows the run's watch stream)."""
    client = _client(required=False)
    if client is None:
        return None
    try:
        from flyte_jupyter.remote import RemoteRun

        summary, _ = _sync(lambda: client.get_run(name))
    except Exception:
        return None
    return RemoteRun(summary.name, None, client, summary.project, summary.domain, summary.url)


def _missing_run(name: str, client: Any, exc: Exception) -> CellError:
    """`no such run`, in words that point to the notebook's own commands."""
    if getattr(exc, "code", None) == "NOT_FOUND" or "does not exist" in str(exc):
        where = f" on the backend at {client.endpoint}" if client is not None else ""
        return CellError(f"no run named {name!r} in this kernel or{where}; `%flyte runs` lists the runs")
    return CellError(f"could not look up run {name!r}: {exc}")


def status(shell: Any, name: str) -> Any:
    """Show a run live: the widget (or text) of a run of this kernel or of the backend."""
    from flyte_jupyter.kernel._registry import open_view

    run = _submit.find_run(name) or _attach(name)
    if run is not None:
        open_view(shell, run)
        return None
    client = _client(required=False)
    if client is None:
        raise CellError(f"no run named {name!r} in this kernel (and no backend is configured or running to look "
                        "for it); `%flyte runs` lists the runs")
    try:
        summary, actions = _sync(lambda: client.get_run(name))
    except Exception as exc:
        raise _missing_run(name, client, exc) from None
    lines = [f"Run {summary.name} (remote): {summary.phase.value}, {len(actions)} actions"]
    for info in actions:
        lines.append(f"- {info.task} [{info.name}] {info.phase.value}" + (f"  {info.error}" if info.error else ""))
    print("\n".join(lines))
    return None


def abort(name: str) -> None:
    run = _submit.find_run(name)
    if run is not None:
        if run.done:
            print(f"run {name} already ended: {run.phase.value}; nothing to abort")
            return
        run.abort("aborted with %flyte abort")
        print(f"aborting run {name}")
        return
    client = _client()
    try:
        summary, _ = _sync(lambda: client.get_run(name))
    except Exception as exc:
        raise _missing_run(name, client, exc) from None
    if summary.phase.terminal:
        print(f"run {name} already ended: {summary.phase.value}; nothing to abort")
        return
    try:
        _sync(lambda: client.abort_run(name, "aborted with %flyte abort"))
    except Exception as exc:
        raise CellError(f"could not abort run {name!r}: {exc}") from None
    print(f"aborting run {name}")


LOG_PROBE_ACTIONS = 50


def logs(name: str, action: str = "a0", *, follow: bool = False, attempt: int = 0) -> None:
    """Print an action's output; when it printed nothing, say which actions of the run did."""
    run = _submit.find_run(name)
    if run is not None and run.mode == "local":
        _local_logs(run, action, attempt)
        return
    client = getattr(run, "client", None) or _client()
    printed = {"lines": 0}

    async def tail() -> None:
        async for line in client.tail_logs(name, action, attempt=attempt, follow=follow, partial_lines=follow):
            printed["lines"] += 0 if line.partial else 1
            print(line.text.rstrip("\n"), end="" if line.partial else "\n", flush=True)

    try:
        _sync(tail, None if follow else 60.0)
    except KeyboardInterrupt:
        return
    except Exception as exc:
        if getattr(exc, "code", None) == "NOT_FOUND":
            if f"action {action!r}" in str(exc):
                raise CellError(f"run {name} has no action {action!r}; `%flyte status {name}` lists its "
                                "actions") from None
            raise _missing_run(name, client, exc) from None
        raise CellError(f"no logs for {name}/{action}: {exc}") from None
    if printed["lines"]:
        return
    others = _actions_with_logs(name, client, run, skip=action)
    what = f"{action} printed nothing" + (f" (attempt {attempt})" if attempt else "")
    if others:
        listed = ", ".join(f"{label} ({n} line{'s' if n != 1 else ''})" for label, n in others[:12])
        more = f", and {len(others) - 12} more" if len(others) > 12 else ""
        print(f"{what}; these actions of run {name} have logs: {listed}{more}. "
              f"`%flyte logs {name} ACTION` prints one.")
    else:
        print(f"{what}, and no other action of run {name} has logs"
              + (" (the first " + str(LOG_PROBE_ACTIONS) + " actions were looked at)" if others is None else ""))


def _actions_with_logs(name: str, client: Any, run: Any, skip: str) -> list[tuple[str, int]] | None:
    """(label, lines) of the actions that printed something: from this kernel's copy when a view
    followed the run, else by asking the backend about (at most LOG_PROBE_ACTIONS of) them."""
    from flyte_jupyter.kernel import _streams

    out = _streams.output_of(name)
    if out is not None and out.counts() and run is not None:
        from flyte_jupyter.kernel._labels import path_labels

        counts = {a: n for a, n in out.counts().items() if a != skip}
        labels = path_labels(run, list(counts))
        return [(f"{labels.get(a, a)} [{a}]", n) for a, n in counts.items()]
    try:
        _summary, infos = _sync(lambda: client.get_run(name))
    except Exception:
        return []
    found: list[tuple[str, int]] = []

    async def probe() -> None:
        for info in infos[:LOG_PROBE_ACTIONS]:
            if info.name == skip or info.attempts < 1:
                continue
            n = 0
            try:
                async for _line in client.tail_logs(name, info.name, follow=False):
                    n += 1
            except Exception:
                continue
            if n:
                found.append((f"{info.task} [{info.name}]", n))

    try:
        _sync(probe, 60.0)
    except Exception:
        pass
    if not found and len(infos) > LOG_PROBE_ACTIONS:
        return None
    return found


def _local_logs(run: Any, action: str, attempt: int = 0) -> None:
    """A local run's output, as this kernel captured it (the latest lines, or all of them from the
    file an action that printed a lot has)."""
    from flyte_jupyter.kernel import _streams

    out = _streams.output_of(run.name)
    if out is None:
        print(f"run {run.name} ran in this kernel without a view: its actions printed into the output of the "
              "cell that ran it")
        return
    if attempt:
        lines, complete = out.lines_of(action, attempt), not out.is_truncated(action)
    else:
        lines, complete = out.full_log(action)
    if lines:
        print("\n".join(lines))
        if not complete:
            print(f"(only the latest {len(lines)} lines of {action} were kept)")
        return
    from flyte_jupyter.kernel._labels import path_labels

    counts = {a: n for a, n in out.counts().items() if a != action}
    labels = path_labels(run, list(counts))
    others = [(f"{labels.get(a, a)} [{a}]", n) for a, n in counts.items()]
    if others:
        listed = ", ".join(f"{label} ({n} line{'s' if n != 1 else ''})" for label, n in others[:12])
        print(f"{action} printed nothing; these actions of run {run.name} have logs: {listed}. "
              f"`%flyte logs {run.name} ACTION` prints one.")
    else:
        print(f"{action} printed nothing, and no other action of run {run.name} did")


# -- connect and the embedded backend -----------------------------------------------------------------


def connect(target: str, *, token: str | None = None, project: str | None = None,
            domain: str | None = None) -> None:
    """Use a backend from now on: a client.yaml path, or host:port (with --token)."""
    import os

    import flyte_jupyter as flyte

    if os.path.exists(os.path.expanduser(target)):
        cfg = flyte.init_from_config(os.path.expanduser(target), project=project, domain=domain,
                                     **({"api_key": token} if token else {}))
    elif ":" in target:
        cfg = flyte.init(endpoint=target, api_key=token, project=project, domain=domain)
    else:
        raise CellError(f"{target!r} is neither a config file nor host:port; pass the backend's "
                        "client.yaml (see `%flyte backend status`) or its endpoint")
    client = _client()
    try:
        facts = _sync(lambda: client.status(), 15.0)
    except Exception as exc:
        print(f"configured {cfg.endpoint}, but it does not answer yet: {exc}")
        return
    print(f"connected to the flyte-jupyter backend at {cfg.endpoint} (version {facts.get('version')}, "
          f"executor {facts.get('executor')}, project {cfg.project}, domain {cfg.domain})")


def backend(action: str) -> None:
    emb = _embedded()
    if action == "start":
        try:
            result = emb.start_backend()
        except Exception as exc:
            raise CellError(f"the embedded backend did not start: {exc}") from None
        print(f"embedded backend running: {_describe(result)}")
        if _config.current().endpoint:
            print(f"(runs still go to the configured backend {_config.current().endpoint})")
    elif action == "stop":
        try:
            result = emb.stop_backend()
        except Exception as exc:
            raise CellError(f"could not stop the embedded backend: {exc}") from None
        print("embedded backend stopped" if result is not False else "the embedded backend was not running")
    else:
        try:
            result = emb.backend_status()
        except Exception as exc:
            raise CellError(f"could not read the embedded backend's status: {exc}") from None
        cfg = _config.current()
        configured = f"configured backend: {cfg.endpoint}\n" if cfg.endpoint else ""
        state = _describe(result) if result.running else f"not running (data directory {result.data_dir})"
        print(configured + f"embedded backend: {state}")


def _describe(info: Any) -> str:
    if hasattr(info, "to_json"):
        facts = info.to_json()
        return (f"pid {facts.get('pid')}, endpoint {facts.get('endpoint')}, config {facts.get('client_yaml')}, "
                f"data directory {facts.get('data_dir')}")
    return str(info)
