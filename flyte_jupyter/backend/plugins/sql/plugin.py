"""Runs a "sql" attempt in a backend thread: reads its inputs, binds them into the query, writes
the rows as parquet and `outputs.pb` (one io.DataFrame), or `error.pb` with the database's message.

Abort and timeout interrupt the statement (sqlite3's interrupt, the driver's cancel through SQLAlchemy). A query dies with the backend:
after a restart an attempt that left no result is lost and retried by the task's policy.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
from typing import Any, AsyncIterator

from flyte_jupyter._internal.runtime import sql as _sql
from flyte_jupyter._internal.runtime import storage as _storage
from flyte_jupyter._internal.wire.proto import common_pb2 as pb
from flyte_jupyter.backend.executor.plugin import (
    BuildError,
    ExecutorPlugin,
    LaunchSpec,
    LogLine,
    Outcome,
    OutcomeKind,
    PluginConfig,
    PluginStatus,
    StatusCallback,
)
from flyte_jupyter.backend.executor.results import write_error, write_outputs
from flyte_jupyter.backend.plugins.logfiles import log_files, tail

log = logging.getLogger("flyte_jupyter.backend")
_DIALECTS = ("sqlite", "sqlalchemy")


@dataclasses.dataclass(frozen=True)
class Query:
    """What build() makes of a sql attempt: the checked config and where its inputs are."""

    config: dict[str, Any]
    inputs_uri: str


def checked_config(custom: dict[str, Any], task: str, data_dir: str = "") -> dict[str, Any]:
    """The task's SQL config, or ValueError naming what is wrong. A SQLite database inside the
    backend's own data directory (its state, tokens, logs) is refused: the query runs in the backend."""
    dialect = custom.get("dialect")
    if dialect not in _DIALECTS:
        raise ValueError(f"sql task {task} has dialect {dialect!r}; use one of {', '.join(_DIALECTS)} "
                         "(build it with flyte_jupyter.plugins.sql)")
    for key in ("uri", "query_template"):
        if not isinstance(custom.get(key), str) or not custom[key]:
            raise ValueError(f"sql task {task} has no {key} in its config")
    names = custom.get("inputs") or []
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ValueError(f"sql task {task}: its config's inputs must be a list of names")
    _sql.check_template(custom["query_template"], dict.fromkeys(names))
    if dialect == "sqlite" and data_dir and _storage.is_local(custom["uri"]):
        target = os.path.realpath(_storage.local_path(custom["uri"]))
        if target == data_dir or target.startswith(data_dir.rstrip("/") + "/"):
            raise ValueError(f"sql task {task}: the SQLite database {custom['uri']!r} is inside the backend's data "
                             "directory, which queries may not read; use a database of your own")
    return custom


class SqlPlugin(ExecutorPlugin):
    """See the module docstring."""

    name = "sql"
    task_types = ("sql",)

    def __init__(self, config: PluginConfig) -> None:
        self.data_dir = os.path.realpath(config.data_dir)
        self._live: dict[str, tuple[_sql.QueryRun, asyncio.Task]] = {}

    def check_task(self, spec: pb.TaskSpec) -> None:
        """At CreateRun and registration: a config this plugin cannot run is refused at once."""
        import json

        checked_config(json.loads(spec.custom_json or "{}"), spec.id.name, self.data_dir)

    def build(self, spec: LaunchSpec) -> Query:
        try:
            config = checked_config(spec.custom, spec.task_name, self.data_dir)
        except ValueError as exc:
            raise BuildError(str(exc), kind="SQLConfigError") from None
        args = list(spec.args)
        inputs = args[args.index("--inputs") + 1] if "--inputs" in args[:-1] else ""
        return Query(config, inputs)

    async def launch(self, spec: LaunchSpec, on_status: StatusCallback) -> str:
        query = spec.resource if isinstance(spec.resource, Query) else self.build(spec)
        handle = f"sql:{spec.run_name}:{spec.action_name}:{spec.attempt}"
        data = _storage.get_bytes(query.inputs_uri) if query.inputs_uri else b""
        values = _sql.scalar_inputs(data) if data else {}
        runner = _sql.QueryRun(query.config, values)
        job = asyncio.get_running_loop().create_task(self._run(spec, runner, on_status))
        self._live[handle] = (runner, job)
        job.add_done_callback(lambda _: self._live.pop(handle, None))
        return handle

    async def _run(self, spec: LaunchSpec, runner: _sql.QueryRun, on_status: StatusCallback) -> None:
        out, err = log_files(spec)
        os.makedirs(os.path.dirname(out), exist_ok=True)
        with open(out, "a") as stdout, open(err, "a") as stderr:
            stdout.write(f"sql ({runner.config['dialect']}): {runner.config['query_template'].strip()}\n")
            stdout.write(f"{len(runner.values)} input(s) bound as parameters\n")
            stdout.flush()
            try:
                columns, rows = await asyncio.to_thread(runner.run)
                table = _sql.to_table(columns, rows)
                uri = await asyncio.to_thread(_sql.store_table, table, _storage.join(spec.outputs_path, "o0"))
                types = [(f.name, str(f.type)) for f in table.schema]
                write_outputs(spec.outputs_path, _sql.dataframe_outputs(uri, types))
                stdout.write(f"{len(rows)} row(s), columns {columns}\n")
                outcome = Outcome(OutcomeKind.EXITED, 0)
            except _sql.SQLError as exc:
                stderr.write(f"{exc}\n")
                if runner.stopped:
                    outcome = Outcome(OutcomeKind.ABORTED, message="the query was interrupted")
                else:
                    write_error(spec.outputs_path, "SQLError", f"the query of {spec.task_name} failed: {exc}")
                    outcome = Outcome(OutcomeKind.EXITED, 1)
            except Exception as exc:  # noqa: BLE001 - storage or pyarrow failures: a system error, retried
                log.exception("sql attempt %s/%s failed", spec.run_name, spec.action_name)
                stderr.write(f"{type(exc).__name__}: {exc}\n")
                write_error(spec.outputs_path, "SQLSystemError", f"{type(exc).__name__}: {exc}",
                            retryable=True, origin="system")
                outcome = Outcome(OutcomeKind.EXITED, 1)
        on_status(PluginStatus(outcome=outcome))

    async def abort(self, handle: str, spec: LaunchSpec, reason: str = "") -> None:
        live = self._live.get(handle)
        if live is None:
            return
        runner, job = live
        await asyncio.to_thread(runner.stop)  # a PostgreSQL cancel is a round trip to the server
        await asyncio.wait([job], timeout=5.0)

    def logs(self, spec: LaunchSpec, handle: str | None, follow: bool = False) -> AsyncIterator[LogLine]:
        out, err = log_files(spec)
        return tail([("stdout", out), ("stderr", err)], lambda: handle in self._live, follow)

    async def close(self) -> None:
        for runner, _ in list(self._live.values()):
            await asyncio.to_thread(runner.stop)
        jobs = [job for _, job in self._live.values()]
        if jobs:
            await asyncio.wait(jobs, timeout=5.0)
