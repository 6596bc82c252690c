"""The SQLite store (WAL mode): the embedded default behind the `Store` interface.

Writes are *group-committed*: callers queue writes and await them; one writer thread takes every
write queued so far, applies them in one transaction and commits, then resolves all their futures.
A thousand children enqueued at once cost a handful of commits, and a caller is only told "done"
after its write is durable (WAL with synchronous=NORMAL survives a SIGKILL of the backend).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import queue
import sqlite3
import threading
from pathlib import Path
from typing import Any, Callable

from flyte_jupyter._internal.wire.proto import common_pb2 as pb
from flyte_jupyter.backend.store.base import Store
from flyte_jupyter.backend.store.records import (
    ActionRecord,
    CacheRecord,
    RegistrationRecord,
    RunRecord,
    SecretRecord,
    TaskKey,
    TickRecord,
    TriggerKey,
    TriggerRecord,
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tasks (
  project TEXT, domain TEXT, name TEXT, version TEXT, digest TEXT, spec BLOB,
  PRIMARY KEY (project, domain, name, version));
CREATE TABLE IF NOT EXISTS runs (
  project TEXT, domain TEXT, name TEXT, created_at REAL, task_name TEXT, labels TEXT, env_vars TEXT,
  raw_data_path TEXT, overwrite_cache INTEGER, done INTEGER DEFAULT 0,
  PRIMARY KEY (project, domain, name));
CREATE TABLE IF NOT EXISTS actions (
  project TEXT, domain TEXT, run TEXT, name TEXT, parent TEXT, task_name TEXT, task_version TEXT,
  task_type TEXT, grp TEXT, phase INTEGER, attempt INTEGER, max_attempts INTEGER, error BLOB,
  cache_hit INTEGER, queued_at REAL, started_at REAL, ended_at REAL, inputs_uri TEXT, outputs_uri TEXT,
  inputs_hash TEXT, overwrite_cache INTEGER, seq INTEGER, handle TEXT, not_before REAL, attempts BLOB,
  PRIMARY KEY (project, domain, run, name));
CREATE INDEX IF NOT EXISTS actions_seq ON actions (seq);
CREATE TABLE IF NOT EXISTS cache (
  project TEXT, domain TEXT, task_name TEXT, cache_version TEXT, inputs_hash TEXT, outputs_uri TEXT,
  created_at REAL, source_run TEXT, source_action TEXT,
  PRIMARY KEY (project, domain, task_name, cache_version, inputs_hash));
CREATE TABLE IF NOT EXISTS limits (
  project TEXT, domain TEXT, limits TEXT, PRIMARY KEY (project, domain));
CREATE TABLE IF NOT EXISTS registrations (
  project TEXT, domain TEXT, name TEXT, version TEXT, digest TEXT, created_at REAL, created_by TEXT, entry BLOB,
  PRIMARY KEY (project, domain, name, version));
CREATE INDEX IF NOT EXISTS registrations_newest ON registrations (project, domain, name, created_at);
-- task-resource attributes (issue 13): defaults per project and domain; their limits live in `limits`
CREATE TABLE IF NOT EXISTS resource_defaults (
  project TEXT, domain TEXT, defaults TEXT, PRIMARY KEY (project, domain));
-- secrets and triggers (issue 19): `sealed` is ciphertext only (backend/vault.py)
CREATE TABLE IF NOT EXISTS secrets (
  project TEXT, domain TEXT, name TEXT, sealed BLOB, created_at REAL, updated_at REAL,
  PRIMARY KEY (project, domain, name));
CREATE TABLE IF NOT EXISTS triggers (
  project TEXT, domain TEXT, task_name TEXT, name TEXT, task_version TEXT, spec BLOB, active INTEGER,
  created_at REAL, active_since REAL, last_tick REAL DEFAULT 0, last_run TEXT DEFAULT '',
  last_fired_at REAL DEFAULT 0,
  PRIMARY KEY (project, domain, task_name, name));
CREATE TABLE IF NOT EXISTS trigger_ticks (
  project TEXT, domain TEXT, task_name TEXT, name TEXT, tick REAL, run_name TEXT, fired_at REAL,
  PRIMARY KEY (project, domain, task_name, name, tick));
-- rerun and recovery (issue 17): an action's origin and ended attempts; a rerun's source
CREATE TABLE IF NOT EXISTS action_extras (
  project TEXT, domain TEXT, run TEXT, name TEXT, recovered_from TEXT, usage BLOB,
  PRIMARY KEY (project, domain, run, name));
CREATE TABLE IF NOT EXISTS rerun_sources (
  project TEXT, domain TEXT, run TEXT, source BLOB, PRIMARY KEY (project, domain, run));
"""

_REG_COLS = "project, domain, name, version, digest, created_at, created_by, entry"

_ACTION_COLS = (
    "project, domain, run, name, parent, task_name, task_version, task_type, grp, phase, attempt, "
    "max_attempts, error, cache_hit, queued_at, started_at, ended_at, inputs_uri, outputs_uri, "
    "inputs_hash, overwrite_cache, seq, handle, not_before, attempts"
)
_ACTION_SLOTS = ",".join("?" * 25)

# -- attempt history (every attempt of an action): the `attempts` column --------------------------
# A database made before the column existed gets it on open (NULL: only the latest attempt known).
_ACTION_MIGRATIONS = ("ALTER TABLE actions ADD COLUMN attempts BLOB",)


def _migrate(conn: sqlite3.Connection) -> None:
    have = {row[1] for row in conn.execute("PRAGMA table_info(actions)")}
    if "attempts" not in have:
        for statement in _ACTION_MIGRATIONS:
            conn.execute(statement)


def _attempts_blob(a: ActionRecord) -> bytes | None:
    return pb.AttemptHistory(attempts=a.attempts).SerializeToString() if a.attempts else None


def _attempts_of(blob: bytes | None) -> list[pb.AttemptRecord]:
    if not blob:
        return []
    history = pb.AttemptHistory()
    history.ParseFromString(blob)
    return list(history.attempts)


def _action_row(a: ActionRecord) -> tuple:
    return (
        a.project, a.domain, a.run, a.name, a.parent, a.task_name, a.task_version, a.task_type, a.group,
        a.phase, a.attempt, a.max_attempts, a.error.SerializeToString() if a.error is not None else None,
        int(a.cache_hit), a.queued_at, a.started_at, a.ended_at, a.inputs_uri, a.outputs_uri, a.inputs_hash,
        int(a.overwrite_cache), a.seq, a.handle, a.not_before, _attempts_blob(a),
    )


# -- rerun and recovery (issue 17): the action_extras rows --------------------------------------

def _extras_row(a: ActionRecord) -> tuple | None:
    """The action_extras row of an action that has an origin or ended attempts (most have neither)."""
    if not a.recovered_from and not a.usage:
        return None
    usage = pb.Action(usage=a.usage).SerializeToString() if a.usage else None
    return (a.project, a.domain, a.run, a.name, a.recovered_from, usage)


def _extras_rows(actions: list[ActionRecord]) -> list[tuple]:
    """Captured when the write is queued, as the action rows are."""
    return [r for r in map(_extras_row, actions) if r is not None]


def _write_extras(c: sqlite3.Connection, rows: list[tuple]) -> None:
    if rows:
        c.executemany("INSERT OR REPLACE INTO action_extras VALUES (?,?,?,?,?,?)", rows)


def _with_extras(c: sqlite3.Connection, project: str, domain: str, run: str,
                 actions: list[ActionRecord]) -> list[ActionRecord]:
    extras = {r[0]: r[1:] for r in c.execute(
        "SELECT name, recovered_from, usage FROM action_extras WHERE project=? AND domain=? AND run=?",
        (project, domain, run))}
    for a in actions:
        got = extras.get(a.name)
        if got is not None:
            a.recovered_from = got[0] or ""
            if got[1]:
                a.usage = list(pb.Action.FromString(got[1]).usage)
    return actions


# -- rerun and recovery (issue 17) --------------------------------------------------------------

class _RerunSources:
    """SqliteStore's rerun_sources methods (mixed in to keep the feature's block in one place)."""

    async def put_rerun_source(self: Any, project: str, domain: str, run: str, source: bytes) -> None:
        await self._submit(lambda c: c.execute("INSERT OR REPLACE INTO rerun_sources VALUES (?,?,?,?)",
                                               (project, domain, run, source)))

    async def get_rerun_source(self: Any, project: str, domain: str, run: str) -> bytes | None:
        row = await self._read(lambda c: c.execute(
            "SELECT source FROM rerun_sources WHERE project=? AND domain=? AND run=?", (project, domain, run)).fetchone())
        return row[0] if row else None


def _action_from_row(row: tuple) -> ActionRecord:
    err = None
    if row[12]:
        err = pb.ActionError()
        err.ParseFromString(row[12])
    return ActionRecord(
        project=row[0], domain=row[1], run=row[2], name=row[3], parent=row[4], task_name=row[5],
        task_version=row[6], task_type=row[7], group=row[8], phase=row[9], attempt=row[10],
        max_attempts=row[11], error=err, cache_hit=bool(row[13]), queued_at=row[14], started_at=row[15],
        ended_at=row[16], inputs_uri=row[17], outputs_uri=row[18], inputs_hash=row[19],
        overwrite_cache=bool(row[20]), seq=row[21], handle=row[22] or "", not_before=row[23] or 0.0,
        attempts=_attempts_of(row[24]),
    )


def _run_from_row(row: tuple) -> RunRecord:
    return RunRecord(project=row[0], domain=row[1], name=row[2], created_at=row[3], task_name=row[4],
                     labels=json.loads(row[5] or "{}"), env_vars=json.loads(row[6] or "{}"),
                     raw_data_path=row[7] or "", overwrite_cache=bool(row[8]))


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA busy_timeout=10000")
    return conn


class SqliteStore(_RerunSources, Store):
    """SQLite (WAL) with one group-committing writer thread and one reader thread."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._writes: queue.SimpleQueue = queue.SimpleQueue()
        self._writer: threading.Thread | None = None
        self._reader = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="store-read")
        self._rconn: sqlite3.Connection | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending: list[tuple[Callable[[sqlite3.Connection], Any], asyncio.Future]] = []
        self._in_flight = False

    async def open(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        wconn = _connect(self.path)
        wconn.executescript(_SCHEMA)
        _migrate(wconn)
        self._rconn = _connect(self.path)
        self._writer = threading.Thread(target=self._write_loop, args=(wconn,), name="store-write", daemon=True)
        self._writer.start()

    async def close(self) -> None:
        if self._writer is not None:
            done = self._open_loop().create_future()
            batch, self._pending = self._pending, []  # after any batch in flight, then stop
            self._writes.put([*batch, (None, done)])
            await asyncio.wait_for(done, 10)
            self._writer.join(5)
            self._writer = None
        self._reader.shutdown(wait=True)

    def _open_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            raise RuntimeError("SqliteStore used before open()")
        return self._loop

    # -- the writer -----------------------------------------------------------------------------

    def _write_loop(self, conn: sqlite3.Connection) -> None:
        loop = self._open_loop()
        while True:
            batch = list(self._writes.get())
            try:
                while len(batch) < 5000:
                    batch.extend(self._writes.get_nowait())
            except queue.Empty:
                pass
            stop = False
            results: list[tuple[asyncio.Future, Any, BaseException | None]] = []
            try:
                conn.execute("BEGIN")
                for fn, fut in batch:
                    if fn is None:
                        stop = True
                        results.append((fut, None, None))
                        continue
                    try:
                        results.append((fut, fn(conn), None))
                    except sqlite3.Error as exc:
                        results.append((fut, None, exc))
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                try:
                    conn.execute("ROLLBACK")
                except sqlite3.Error:
                    pass
                results = [(fut, None, exc) for _, fut in batch]
            loop.call_soon_threadsafe(self._committed, results)
            if stop:
                conn.close()
                return

    def _submit(self, fn: Callable[[sqlite3.Connection], Any]) -> "asyncio.Future[Any]":
        # Group commit: at most one transaction is in flight. Writes made while it commits wait
        # on the loop and go to the writer thread together when it is done (one wake-up, one
        # transaction for all of them); a write made while the writer is idle goes at once, so
        # batching never adds latency. Writes of one loop iteration always travel together.
        loop = self._open_loop()
        fut = loop.create_future()
        self._pending.append((fn, fut))
        if len(self._pending) == 1 and not self._in_flight:
            loop.call_soon(self._hand_over)
        return fut

    def _hand_over(self) -> None:
        if self._in_flight:
            return  # the batch in flight hands over the next one when it is committed
        batch, self._pending = self._pending, []
        if batch:
            self._in_flight = True
            self._writes.put(batch)

    def _committed(self, results: list[tuple[asyncio.Future, Any, BaseException | None]]) -> None:
        self._in_flight = False
        _resolve_all(results)
        if self._pending:
            self._hand_over()

    async def _read(self, fn: Callable[[sqlite3.Connection], Any]) -> Any:
        loop = self._open_loop()
        if self._rconn is None:
            raise RuntimeError("SqliteStore used before open()")
        return await loop.run_in_executor(self._reader, fn, self._rconn)

    # -- writes ---------------------------------------------------------------------------------

    async def put_task(self, key: TaskKey, digest: str, spec: bytes) -> None:
        await self._submit(lambda c: c.execute("INSERT OR IGNORE INTO tasks VALUES (?,?,?,?,?,?)", (*key, digest, spec)))

    async def put_registrations(self, tasks: list[tuple[TaskKey, str, bytes]],
                                registrations: list[RegistrationRecord]) -> None:
        task_rows = [(*key, digest, spec) for key, digest, spec in tasks]
        reg_rows = [(*r.key, r.digest, r.created_at, r.created_by, r.entry) for r in registrations]

        def write(c: sqlite3.Connection) -> None:
            # A savepoint: the writer commits a batch of callers' writes together, and this one
            # must land whole or not at all whatever the others do.
            c.execute("SAVEPOINT registrations")
            try:
                c.executemany("INSERT OR IGNORE INTO tasks VALUES (?,?,?,?,?,?)", task_rows)
                c.executemany(f"INSERT INTO registrations ({_REG_COLS}) VALUES (?,?,?,?,?,?,?,?)", reg_rows)
            except sqlite3.Error:
                c.execute("ROLLBACK TO registrations")
                c.execute("RELEASE registrations")
                raise
            c.execute("RELEASE registrations")

        await self._submit(write)

    async def put_run(self, run: RunRecord, root: ActionRecord) -> None:
        row = (run.project, run.domain, run.name, run.created_at, run.task_name, json.dumps(run.labels),
               json.dumps(run.env_vars), run.raw_data_path, int(run.overwrite_cache))
        arow = _action_row(root)
        extras = _extras_rows([root])

        def write(c: sqlite3.Connection) -> None:
            c.execute("INSERT INTO runs (project, domain, name, created_at, task_name, labels, env_vars, "
                      "raw_data_path, overwrite_cache) VALUES (?,?,?,?,?,?,?,?,?)", row)
            c.execute(f"INSERT OR REPLACE INTO actions ({_ACTION_COLS}) VALUES ({_ACTION_SLOTS})", arow)
            _write_extras(c, extras)

        await self._submit(write)

    def put_actions_nowait(self, actions: list[ActionRecord]) -> "asyncio.Future[Any]":
        """Queue action upserts; the returned future resolves once they are committed."""
        rows = [_action_row(a) for a in actions]
        extras = _extras_rows(actions)
        done_runs = [(a.project, a.domain, a.run) for a in actions if a.name == "a0" and a.terminal]

        def write(c: sqlite3.Connection) -> None:
            c.executemany(f"INSERT OR REPLACE INTO actions ({_ACTION_COLS}) VALUES ({_ACTION_SLOTS})", rows)
            _write_extras(c, extras)
            if done_runs:
                c.executemany("UPDATE runs SET done=1 WHERE project=? AND domain=? AND name=?", done_runs)

        return self._submit(write)

    async def put_actions(self, actions: list[ActionRecord]) -> None:
        await self.put_actions_nowait(actions)

    async def put_cache(self, entry: CacheRecord) -> None:
        row = (*entry.key, entry.outputs_uri, entry.created_at, entry.source_run, entry.source_action)
        await self._submit(lambda c: c.execute("INSERT OR REPLACE INTO cache VALUES (?,?,?,?,?,?,?,?,?)", row))

    async def delete_cache(self, task_name: str | None) -> int:
        def write(c: sqlite3.Connection) -> int:
            if task_name:
                return c.execute("DELETE FROM cache WHERE task_name=?", (task_name,)).rowcount
            return c.execute("DELETE FROM cache").rowcount

        return await self._submit(write)

    async def put_limits(self, project: str, domain: str, limits: dict[str, str]) -> None:
        await self._submit(lambda c: c.execute("INSERT OR REPLACE INTO limits VALUES (?,?,?)",
                                               (project, domain, json.dumps(limits))))

    # -- reads ----------------------------------------------------------------------------------

    async def get_task(self, key: TaskKey) -> tuple[str, bytes] | None:
        def read(c: sqlite3.Connection) -> Any:
            return c.execute("SELECT digest, spec FROM tasks WHERE project=? AND domain=? AND name=? AND version=?",
                             key).fetchone()

        row = await self._read(read)
        return (row[0], row[1]) if row else None

    async def get_registration(self, key: TaskKey) -> RegistrationRecord | None:
        row = await self._read(lambda c: c.execute(
            f"SELECT {_REG_COLS} FROM registrations WHERE project=? AND domain=? AND name=? AND version=?",
            key).fetchone())
        return RegistrationRecord(*row) if row else None

    async def latest_registration(self, project: str, domain: str, name: str) -> RegistrationRecord | None:
        row = await self._read(lambda c: c.execute(
            f"SELECT {_REG_COLS} FROM registrations WHERE project=? AND domain=? AND name=? "
            "ORDER BY created_at DESC, rowid DESC LIMIT 1", (project, domain, name)).fetchone())
        return RegistrationRecord(*row) if row else None

    async def list_registrations(self, project: str, domain: str, name: str | None, limit: int,
                                 latest_only: bool = False) -> list[RegistrationRecord]:
        where = "r.project=? AND r.domain=?" + (" AND r.name=?" if name else "")
        params: list[Any] = [project, domain] + ([name] if name else [])
        if latest_only:
            where += (" AND NOT EXISTS (SELECT 1 FROM registrations n WHERE n.project=r.project AND "
                      "n.domain=r.domain AND n.name=r.name AND (n.created_at > r.created_at OR "
                      "(n.created_at = r.created_at AND n.rowid > r.rowid)))")
        cols = ", ".join(f"r.{c.strip()}" for c in _REG_COLS.split(","))
        rows = await self._read(lambda c: c.execute(
            f"SELECT {cols} FROM registrations r WHERE {where} ORDER BY r.name, r.created_at DESC, r.rowid DESC "
            "LIMIT ?", (*params, limit or -1)).fetchall())
        return [RegistrationRecord(*r) for r in rows]

    async def get_run(self, project: str, domain: str, name: str) -> RunRecord | None:
        row = await self._read(lambda c: c.execute(
            "SELECT project, domain, name, created_at, task_name, labels, env_vars, raw_data_path, overwrite_cache "
            "FROM runs WHERE project=? AND domain=? AND name=?", (project, domain, name)).fetchone())
        return _run_from_row(row) if row else None

    async def get_actions(self, project: str, domain: str, run: str) -> list[ActionRecord]:
        def read(c: sqlite3.Connection) -> list[ActionRecord]:
            rows = c.execute(f"SELECT {_ACTION_COLS} FROM actions WHERE project=? AND domain=? AND run=?",
                             (project, domain, run)).fetchall()
            return _with_extras(c, project, domain, run, [_action_from_row(r) for r in rows])

        return await self._read(read)

    async def list_runs(self, project: str, domain: str, limit: int) -> list[RunRecord]:
        rows = await self._read(lambda c: c.execute(
            "SELECT project, domain, name, created_at, task_name, labels, env_vars, raw_data_path, overwrite_cache "
            "FROM runs WHERE project=? AND domain=? ORDER BY created_at DESC LIMIT ?",
            (project, domain, limit or -1)).fetchall())
        return [_run_from_row(r) for r in rows]

    async def run_roots(self, project: str, domain: str, limit: int) -> list[tuple[RunRecord, ActionRecord | None, int]]:
        """Newest runs with their root action and action count, in one query (for listings)."""
        def read(c: sqlite3.Connection) -> list:
            runs = c.execute(
                "SELECT project, domain, name, created_at, task_name, labels, env_vars, raw_data_path, overwrite_cache "
                "FROM runs WHERE project=? AND domain=? ORDER BY created_at DESC LIMIT ?",
                (project, domain, limit or -1)).fetchall()
            out = []
            for row in runs:
                root = c.execute(f"SELECT {_ACTION_COLS} FROM actions WHERE project=? AND domain=? AND run=? AND name='a0'",
                                 row[:3]).fetchone()
                count = c.execute("SELECT COUNT(*) FROM actions WHERE project=? AND domain=? AND run=?", row[:3]).fetchone()[0]
                out.append((_run_from_row(row), _action_from_row(root) if root else None, count))
            return out

        return await self._read(read)

    async def unfinished_runs(self) -> list[RunRecord]:
        rows = await self._read(lambda c: c.execute(
            "SELECT project, domain, name, created_at, task_name, labels, env_vars, raw_data_path, overwrite_cache "
            "FROM runs WHERE done=0").fetchall())
        return [_run_from_row(r) for r in rows]

    async def max_seq(self) -> int:
        row = await self._read(lambda c: c.execute("SELECT MAX(seq) FROM actions").fetchone())
        return int(row[0] or 0)

    async def all_cache(self) -> list[CacheRecord]:
        rows = await self._read(lambda c: c.execute("SELECT * FROM cache").fetchall())
        return [CacheRecord(*r) for r in rows]

    async def all_limits(self) -> dict[tuple[str, str], dict[str, str]]:
        rows = await self._read(lambda c: c.execute("SELECT project, domain, limits FROM limits").fetchall())
        return {(r[0], r[1]): json.loads(r[2]) for r in rows}

    # -- task-resource attributes (issue 13) ------------------------------------------------------

    async def put_resource_attributes(self, project: str, domain: str, defaults: dict[str, str],
                                      limits: dict[str, str]) -> None:
        def write(c: sqlite3.Connection) -> None:
            c.execute("SAVEPOINT resource_attributes")  # whole, whatever else the batch holds
            try:
                c.execute("INSERT OR REPLACE INTO resource_defaults VALUES (?,?,?)",
                          (project, domain, json.dumps(defaults)))
                c.execute("INSERT OR REPLACE INTO limits VALUES (?,?,?)", (project, domain, json.dumps(limits)))
            except sqlite3.Error:
                c.execute("ROLLBACK TO resource_attributes")
                c.execute("RELEASE resource_attributes")
                raise
            c.execute("RELEASE resource_attributes")

        await self._submit(write)

    async def delete_resource_attributes(self, project: str, domain: str) -> bool:
        def write(c: sqlite3.Connection) -> bool:
            c.execute("SAVEPOINT resource_attributes")
            try:
                removed = c.execute("DELETE FROM resource_defaults WHERE project=? AND domain=?",
                                    (project, domain)).rowcount
                removed += c.execute("DELETE FROM limits WHERE project=? AND domain=?", (project, domain)).rowcount
            except sqlite3.Error:
                c.execute("ROLLBACK TO resource_attributes")
                c.execute("RELEASE resource_attributes")
                raise
            c.execute("RELEASE resource_attributes")
            return removed > 0

        return await self._submit(write)

    async def all_resource_defaults(self) -> dict[tuple[str, str], dict[str, str]]:
        rows = await self._read(lambda c: c.execute("SELECT project, domain, defaults FROM resource_defaults").fetchall())
        return {(r[0], r[1]): json.loads(r[2]) for r in rows}

    # -- secrets (issue 19) ---------------------------------------------------------------------

    async def put_secret(self, secret: SecretRecord, overwrite: bool) -> bool:
        key = (secret.project, secret.domain, secret.name)

        def write(c: sqlite3.Connection) -> bool:
            if c.execute("SELECT 1 FROM secrets WHERE project=? AND domain=? AND name=?", key).fetchone():
                if not overwrite:
                    return False
                c.execute("UPDATE secrets SET sealed=?, updated_at=? WHERE project=? AND domain=? AND name=?",
                          (secret.sealed, secret.updated_at, *key))
                return True
            c.execute("INSERT INTO secrets VALUES (?,?,?,?,?,?)",
                      (*key, secret.sealed, secret.created_at, secret.updated_at))
            return True

        return await self._submit(write)

    async def get_secret(self, project: str, domain: str, name: str) -> SecretRecord | None:
        row = await self._read(lambda c: c.execute(
            "SELECT project, domain, name, sealed, created_at, updated_at FROM secrets "
            "WHERE project=? AND domain=? AND name=?", (project, domain, name)).fetchone())
        return SecretRecord(*row) if row else None

    async def list_secrets(self, project: str, domain: str, limit: int) -> list[SecretRecord]:
        rows = await self._read(lambda c: c.execute(
            "SELECT project, domain, name, created_at, updated_at FROM secrets WHERE project=? AND domain=? "
            "ORDER BY name LIMIT ?", (project, domain, limit or -1)).fetchall())
        return [SecretRecord(r[0], r[1], r[2], b"", r[3], r[4]) for r in rows]

    async def delete_secret(self, project: str, domain: str, name: str) -> bool:
        return await self._submit(lambda c: c.execute(
            "DELETE FROM secrets WHERE project=? AND domain=? AND name=?", (project, domain, name)).rowcount > 0)

    # -- triggers (issue 19) --------------------------------------------------------------------

    async def put_triggers(self, triggers: list[TriggerRecord]) -> None:
        rows = [(t.project, t.domain, t.task_name, t.name, t.task_version, t.spec, int(t.active), t.created_at,
                 t.active_since) for t in triggers]

        def write(c: sqlite3.Connection) -> None:
            c.execute("SAVEPOINT triggers")
            try:
                c.executemany(
                    "INSERT INTO triggers (project, domain, task_name, name, task_version, spec, active, created_at, "
                "active_since) VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT (project, domain, task_name, name) "
                    "DO UPDATE SET task_version=excluded.task_version, spec=excluded.spec", rows)
            except sqlite3.Error:
                c.execute("ROLLBACK TO triggers")
                c.execute("RELEASE triggers")
                raise
            c.execute("RELEASE triggers")

        await self._submit(write)

    async def list_triggers(self, project: str | None = None, domain: str | None = None) -> list[TriggerRecord]:
        where, params = [], []
        for col, value in (("project", project), ("domain", domain)):
            if value:
                where.append(f"{col}=?")
                params.append(value)
        sql = ("SELECT project, domain, task_name, name, task_version, spec, active, created_at, active_since "
               "FROM triggers" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY task_name, name")
        rows = await self._read(lambda c: c.execute(sql, params).fetchall())
        return [TriggerRecord(r[0], r[1], r[2], r[3], r[4], r[5], bool(r[6]), r[7], r[8]) for r in rows]

    async def set_trigger_active(self, key: TriggerKey, active: bool, now: float) -> bool:
        return await self._submit(lambda c: c.execute(
            "UPDATE triggers SET active=?, active_since=CASE WHEN ? AND NOT active THEN ? ELSE active_since END "
            "WHERE project=? AND domain=? AND task_name=? AND name=?",
            (int(active), int(active), now, *key)).rowcount > 0)

    async def delete_trigger(self, key: TriggerKey) -> bool:
        def write(c: sqlite3.Connection) -> bool:
            found = c.execute("DELETE FROM triggers WHERE project=? AND domain=? AND task_name=? AND name=?",
                              key).rowcount > 0
            c.execute("DELETE FROM trigger_ticks WHERE project=? AND domain=? AND task_name=? AND name=?", key)
            return found

        return await self._submit(write)

    async def put_triggered_run(self, run: RunRecord, root: ActionRecord, tick: TickRecord) -> bool:
        row = (run.project, run.domain, run.name, run.created_at, run.task_name, json.dumps(run.labels),
               json.dumps(run.env_vars), run.raw_data_path, int(run.overwrite_cache))
        arow = _action_row(root)
        trow = (tick.project, tick.domain, tick.task_name, tick.name, tick.tick, tick.run_name, tick.fired_at)

        def write(c: sqlite3.Connection) -> bool:
            # The tick's row first: its primary key makes a second fire of the tick a no-op, and a
            # savepoint keeps the three rows together whatever else the batch commits.
            c.execute("SAVEPOINT tick")
            try:
                if c.execute("INSERT OR IGNORE INTO trigger_ticks VALUES (?,?,?,?,?,?,?)", trow).rowcount == 0:
                    c.execute("RELEASE tick")
                    return False
                c.execute("INSERT INTO runs (project, domain, name, created_at, task_name, labels, env_vars, "
                          "raw_data_path, overwrite_cache) VALUES (?,?,?,?,?,?,?,?,?)", row)
                c.execute(f"INSERT OR REPLACE INTO actions ({_ACTION_COLS}) VALUES ({_ACTION_SLOTS})", arow)
                c.execute("UPDATE triggers SET last_tick=?, last_run=?, last_fired_at=? WHERE project=? AND "
                          "domain=? AND task_name=? AND name=? AND last_tick < ?",
                          (tick.tick, tick.run_name, tick.fired_at, *trow[:4], tick.tick))
            except sqlite3.Error:
                c.execute("ROLLBACK TO tick")
                c.execute("RELEASE tick")
                raise
            c.execute("RELEASE tick")
            return True

        return await self._submit(write)

    async def last_ticks(self) -> dict[TriggerKey, TickRecord]:
        # Kept on the trigger's row (written with each fire), so a pass reads one row per trigger
        # however many ticks have fired.
        rows = await self._read(lambda c: c.execute(
            "SELECT project, domain, task_name, name, last_tick, last_run, last_fired_at FROM triggers "
            "WHERE last_tick > 0").fetchall())
        return {(r[0], r[1], r[2], r[3]): TickRecord(*r) for r in rows}
    # -- DeleteRun: a finished run's records -----------------------------------------------------

    async def delete_run(self, project: str, domain: str, name: str) -> int:
        key = (project, domain, name)

        def write(c: sqlite3.Connection) -> int:
            count = c.execute("DELETE FROM actions WHERE project=? AND domain=? AND run=?", key).rowcount
            c.execute("DELETE FROM runs WHERE project=? AND domain=? AND name=?", key)
            return int(count)

        return await self._submit(write)


def _resolve_all(results: list[tuple[asyncio.Future, Any, BaseException | None]]) -> None:
    for fut, value, exc in results:
        if fut.done():
            continue
        if exc is not None:
            fut.set_exception(exc)
        else:
            fut.set_result(value)
