"""The SQL store both databases share: group commit, the queries, and the rows of records.

Writes are *group-committed*: callers queue writes and await them; one writer thread takes every
write queued so far, applies them in one transaction and commits, then resolves all their futures.
A thousand children enqueued at once cost a handful of commits, and a caller is only told "done"
after its write is durable. When one caller's write fails, the batch is rolled back and applied
again with a savepoint around each write, so the failure is that caller's alone (PostgreSQL aborts
a whole transaction on an error; SQLite would keep half a write). Over a network the round trips
are the cost: the writes that need no answer midway (`_Pipelined`: the hot ones, a new run and
action changes) go with BEGIN and COMMIT in one pipeline, so a batch of them is one round trip.
A batch's consecutive action changes are merged into one statement (`ActionRows`), and a store may
commit a batch of nothing else a faster way (`_commit_action_rows`: PostgreSQL's `pg_pipeline.py`).

Subclasses say how to connect (`_connect`) and in which dialect; the schema comes from `schema.py`.
"""

from __future__ import annotations

import abc
import asyncio
import concurrent.futures
import contextlib
import functools
import itertools
import json
import queue
import threading
from typing import Any, Callable, ContextManager, Iterable, Iterator

from flyte_jupyter._internal.wire.proto import common_pb2 as pb
from flyte_jupyter.backend.store import schema
from flyte_jupyter.backend.store.base import Store
from flyte_jupyter.backend.store.dialect import Dialect
from flyte_jupyter.backend.store.records import (
    ActionRecord,
    CacheRecord,
    LeaseTerms,
    RegistrationRecord,
    RunRecord,
    SecretRecord,
    TaskKey,
    TickRecord,
    TriggerKey,
    TriggerRecord,
)

_REG_COLS = "project, domain, name, version, digest, created_at, created_by, entry"
_RUN_COLS = "project, domain, name, created_at, task_name, labels, env_vars, raw_data_path, overwrite_cache"
_ACTION_COLS = (
    "project, domain, run, name, parent, task_name, task_version, task_type, grp, phase, attempt, "
    "max_attempts, error, cache_hit, queued_at, started_at, ended_at, inputs_uri, outputs_uri, "
    "inputs_hash, overwrite_cache, seq, handle, not_before, attempts"
)
_CACHE_COLS = ("project, domain, task_name, cache_version, inputs_hash, outputs_uri, created_at, source_run, "
               "source_action")


def _upsert(table: str, cols: str, key: str) -> str:
    names = [c.strip() for c in cols.split(",")]
    keys = {k.strip() for k in key.split(",")}
    updates = ", ".join(f"{c}=excluded.{c}" for c in names if c not in keys)
    return (f"INSERT INTO {table} ({cols}) VALUES ({','.join('?' * len(names))}) "
            f"ON CONFLICT ({key}) DO UPDATE SET {updates}")


_UPSERT_ACTION = _upsert("actions", _ACTION_COLS, "project, domain, run, name")
_UPSERT_CACHE = _upsert("cache", _CACHE_COLS, "project, domain, task_name, cache_version, inputs_hash")
_UPSERT_LIMITS = _upsert("limits", "project, domain, limits", "project, domain")
_UPSERT_EXTRAS = _upsert("action_extras", "project, domain, run, name, recovered_from, usage",
                         "project, domain, run, name")
MARK_DONE = "UPDATE runs SET done=1 WHERE project=? AND domain=? AND name=?"
ACTION_WRITES = (_UPSERT_ACTION, _UPSERT_EXTRAS, MARK_DONE)  # what `_commit_action_rows` runs, in `?` style
_INSERT_TASK = ("INSERT INTO tasks (project, domain, name, version, digest, spec) VALUES (?,?,?,?,?,?) "
                "ON CONFLICT DO NOTHING")


def _action_row(a: ActionRecord) -> tuple:
    return (
        a.project, a.domain, a.run, a.name, a.parent, a.task_name, a.task_version, a.task_type, a.group,
        a.phase, a.attempt, a.max_attempts, a.error.SerializeToString() if a.error is not None else None,
        int(a.cache_hit), a.queued_at, a.started_at, a.ended_at, a.inputs_uri, a.outputs_uri, a.inputs_hash,
        int(a.overwrite_cache), a.seq, a.handle, a.not_before, _attempts_blob(a),
    )


def _action_from_row(row: tuple) -> ActionRecord:
    err = None
    if row[12]:
        err = pb.ActionError()
        err.ParseFromString(bytes(row[12]))
    return ActionRecord(
        project=row[0], domain=row[1], run=row[2], name=row[3], parent=row[4], task_name=row[5],
        task_version=row[6], task_type=row[7], group=row[8], phase=row[9], attempt=row[10],
        max_attempts=row[11], error=err, cache_hit=bool(row[13]), queued_at=row[14], started_at=row[15],
        ended_at=row[16], inputs_uri=row[17], outputs_uri=row[18], inputs_hash=row[19],
        overwrite_cache=bool(row[20]), seq=row[21], handle=row[22] or "", not_before=row[23] or 0.0,
        attempts=_attempts_of(row[24]),
    )


# -- attempt records: every attempt of an action, in the `attempts` column (NULL in a database from
# before the column: only the latest attempt is known, from the action's own fields) ---------------

def _attempts_blob(a: ActionRecord) -> bytes | None:
    return pb.AttemptHistory(attempts=a.attempts).SerializeToString() if a.attempts else None


def _attempts_of(blob: bytes | None) -> list[pb.AttemptRecord]:
    if not blob:
        return []
    return list(pb.AttemptHistory.FromString(bytes(blob)).attempts)


# -- rerun and recovery (issue 17): the action_extras rows ----------------------------------------

def _extras_rows(actions: list[ActionRecord]) -> list[tuple]:
    """The action_extras rows of the actions that have an origin or ended attempts (most have
    neither); captured when the write is queued, as the action rows are."""
    return [(a.project, a.domain, a.run, a.name, a.recovered_from,
             pb.Action(usage=a.usage).SerializeToString() if a.usage else None)
            for a in actions if a.recovered_from or a.usage]


def _with_extras(c: Any, q_extras: str, key: tuple[str, str, str], actions: list[ActionRecord]) -> list[ActionRecord]:
    extras = {r[0]: r[1:] for r in c.execute(q_extras, key).fetchall()}
    for a in actions:
        got = extras.get(a.name)
        if got is not None:
            a.recovered_from = got[0] or ""
            if got[1]:
                a.usage = list(pb.Action.FromString(bytes(got[1])).usage)
    return actions


def _run_from_row(row: tuple) -> RunRecord:
    return RunRecord(project=row[0], domain=row[1], name=row[2], created_at=row[3], task_name=row[4],
                     labels=json.loads(row[5] or "{}"), env_vars=json.loads(row[6] or "{}"),
                     raw_data_path=row[7] or "", overwrite_cache=bool(row[8]))


def _registration(row: tuple) -> RegistrationRecord:
    return RegistrationRecord(project=row[0], domain=row[1], name=row[2], version=row[3], digest=row[4],
                              created_at=row[5], created_by=row[6], entry=bytes(row[7] or b""))


_Write = Callable[[Any], Any]


class _Pipelined:
    """A write that may travel in a pipeline with the statements before and after it: it issues
    statements and reads results only through `fetch*()` (which waits for them), never
    `rowcount` (not known yet in a pipeline), and does not catch a statement's error itself
    (it surfaces later in a pipeline). Writes not wrapped run statement by statement."""

    __slots__ = ("write",)

    def __init__(self, write: _Write) -> None:
        self.write = write

    def __call__(self, conn: Any) -> Any:
        return self.write(conn)


class ActionRows(_Pipelined):
    """Action upserts (with their extras rows and runs marked done), kept as rows so that the
    writer merges consecutive ones of a batch into one statement each (`merged`): a fan-out's
    hundreds of state changes cost a few statements per group commit, not a few per change.
    Merging keeps the last row of each key: in one transaction a later full-row upsert of a key
    overwrites an earlier one whole, so the committed state is the same."""

    __slots__ = ("rows", "extras", "done_runs", "apply")

    def __init__(self, rows: list[tuple], extras: list[tuple], done_runs: list[tuple],
                 apply: Callable[[Any, list[tuple], list[tuple], list[tuple]], None]) -> None:
        super().__init__(lambda conn: apply(conn, rows, extras, done_runs))
        self.rows, self.extras, self.done_runs, self.apply = rows, extras, done_runs, apply

    @staticmethod
    def merged(writes: list["ActionRows"]) -> "ActionRows":
        if len(writes) == 1:
            return writes[0]
        rows: dict[tuple, tuple] = {}
        extras: dict[tuple, tuple] = {}
        done: dict[tuple, tuple] = {}
        for w in writes:
            rows.update((r[:4], r) for r in w.rows)
            extras.update((r[:4], r) for r in w.extras)
            done.update((r, r) for r in w.done_runs)
        return ActionRows(list(rows.values()), list(extras.values()), list(done.values()), writes[0].apply)


def _merge_action_rows(group: Iterable[tuple[_Write | None, "asyncio.Future | None"]]
                       ) -> Iterator[tuple[_Write | None, list["asyncio.Future | None"]]]:
    """The steps of a pipelined group with each run of consecutive `ActionRows` as one step (all
    their futures resolved by it)."""
    for is_rows, steps in itertools.groupby(group, key=lambda step: isinstance(step[0], ActionRows)):
        if is_rows:
            run = list(steps)
            yield ActionRows.merged([fn for fn, _ in run]), [fut for _, fut in run]  # type: ignore[misc]
        else:
            for fn, fut in steps:
                yield fn, [fut]


_begin = _Pipelined(lambda conn: conn.execute("BEGIN"))
_commit = _Pipelined(lambda conn: conn.execute("COMMIT"))


def _rollback(conn: Any, errors: tuple[type[Exception], ...]) -> None:
    try:
        conn.execute("ROLLBACK")
    except errors:  # the connection is gone, or nothing was begun: nothing to undo
        pass


class SqlStore(Store):
    """One group-committing writer thread and one reader thread, each with its own connection."""

    dialect: Dialect

    def __init__(self, where: str) -> None:
        self.where = where  # names the database in errors (a path or a URL without its password)
        self._writes: queue.SimpleQueue = queue.SimpleQueue()
        self._writer: threading.Thread | None = None
        self._reader = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="store-read")
        self._rconn: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending: list[tuple[_Write | None, asyncio.Future]] = []
        self._in_flight = False

    @abc.abstractmethod
    def _connect(self) -> Any:
        """A new connection in autocommit mode (transactions are explicit statements)."""

    def _usable(self, conn: Any) -> Any:
        """`conn`, or a new connection when it broke (the database restarted)."""
        return conn

    def migrate(self) -> list[schema.Migration]:
        """Bring the schema up to date (blocking; see `schema.py`)."""
        conn = self._connect()
        try:
            return schema.migrate(conn, self.dialect, self.where)
        finally:
            conn.close()

    async def open(self) -> None:
        self._loop = asyncio.get_running_loop()
        await self._loop.run_in_executor(None, self.migrate)
        wconn = self._connect()
        self._rconn = self._connect()
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
        if self._rconn is not None:
            self._rconn.close()
            self._rconn = None

    def _open_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            raise RuntimeError(f"{type(self).__name__} used before open()")
        return self._loop

    # -- the writer -----------------------------------------------------------------------------

    def _pipeline(self, conn: Any) -> ContextManager[Any]:
        """A block whose statements go to the database together, their results read at its end
        (PostgreSQL's pipeline mode); a plain block where there is no network to save."""
        return contextlib.nullcontext()

    def _commit_action_rows(self, conn: Any, writes: list[ActionRows]) -> bool:
        """Commit a batch of nothing but action writes (`ActionRows.merged` makes them one) in one
        transaction by a faster way than the general one, returning only once COMMIT succeeded
        (False: no faster way here, nothing done).
        A failure raises `dialect.error` with the transaction rolled back or left for `_apply`
        to roll back."""
        return False

    def _write_loop(self, conn: Any) -> None:
        loop = self._open_loop()
        while True:
            batch = list(self._writes.get())
            try:
                while len(batch) < 5000:
                    batch.extend(self._writes.get_nowait())
            except queue.Empty:
                pass
            stop = any(fn is None for fn, _ in batch)
            try:
                conn = self._usable(conn)
                try:
                    results = self._apply(conn, batch)
                except self.dialect.error:  # one write failed, or the commit: each in a savepoint of its own
                    results = self._apply_isolated(conn, batch)
            except Exception as exc:  # noqa: BLE001 - the database is gone: these writes failed, the writer lives
                results = [(fut, None, exc) for _, fut in batch]
            loop.call_soon_threadsafe(self._committed, results)
            if stop:
                conn.close()
                return

    def _apply(self, conn: Any, batch: list[tuple[_Write | None, asyncio.Future]]
               ) -> list[tuple[asyncio.Future, Any, BaseException | None]]:
        """The batch in one transaction, rolled back whole when anything in it fails (the caller
        then applies it `_apply_isolated`). Consecutive `_Pipelined` writes, with BEGIN before
        them and COMMIT after, travel in one pipeline: a batch of them costs one round trip to
        PostgreSQL, not one per statement. Either way a result is handed back only once COMMIT's
        own answer came back: durable as before."""
        steps: list[tuple[_Write | None, asyncio.Future | None]] = [(_begin, None), *batch, (_commit, None)]
        results: list[tuple[asyncio.Future, Any, BaseException | None]] = []
        try:
            if all(isinstance(fn, ActionRows) for fn, _ in batch):  # the hot batch: only action changes
                if self._commit_action_rows(conn, [fn for fn, _ in batch]):  # type: ignore[misc]
                    return [(fut, None, None) for _, fut in batch]
            for piped, group in itertools.groupby(steps, key=lambda step: isinstance(step[0], (_Pipelined, type(None)))):
                with self._pipeline(conn) if piped else contextlib.nullcontext():
                    for fn, futs in _merge_action_rows(group):
                        value = fn(conn) if fn is not None else None
                        results.extend((fut, value, None) for fut in futs if fut is not None)
        except BaseException:
            _rollback(conn, self.dialect.error)
            raise
        return results

    def _apply_isolated(self, conn: Any, batch: list[tuple[_Write | None, asyncio.Future]]
                        ) -> list[tuple[asyncio.Future, Any, BaseException | None]]:
        """The batch in one transaction with a savepoint around each write, so a failing write
        fails alone (PostgreSQL aborts a whole transaction on an error; SQLite would keep half
        a write). Statement by statement: each write's error must surface at that write."""
        errors = self.dialect.error
        results: list[tuple[asyncio.Future, Any, BaseException | None]] = []
        conn.execute("BEGIN")
        try:
            for fn, fut in batch:
                if fn is None:
                    results.append((fut, None, None))
                    continue
                conn.execute("SAVEPOINT one_write")
                try:
                    results.append((fut, fn(conn), None))
                    conn.execute("RELEASE one_write")
                except errors as exc:
                    conn.execute("ROLLBACK TO one_write")
                    conn.execute("RELEASE one_write")
                    results.append((fut, None, exc))
            conn.execute("COMMIT")
        except BaseException:
            _rollback(conn, errors)
            raise
        return results

    def _submit(self, fn: _Write) -> "asyncio.Future[Any]":
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

    async def _read(self, fn: Callable[[Any], Any]) -> Any:
        loop = self._open_loop()
        if self._rconn is None:
            raise RuntimeError(f"{type(self).__name__} used before open()")

        def run() -> Any:
            self._rconn = self._usable(self._rconn)
            return fn(self._rconn)

        return await loop.run_in_executor(self._reader, run)

    def _q(self, query: str) -> str:
        return self.dialect.sql(query)

    # -- writes ---------------------------------------------------------------------------------

    async def put_task(self, key: TaskKey, digest: str, spec: bytes) -> None:
        q = self._q(_INSERT_TASK)
        await self._submit(_Pipelined(lambda c: c.execute(q, (*key, digest, spec))))

    async def put_registrations(self, tasks: list[tuple[TaskKey, str, bytes]],
                                registrations: list[RegistrationRecord]) -> None:
        task_rows = [(*key, digest, spec) for key, digest, spec in tasks]
        reg_rows = [(*r.key, r.digest, r.created_at, r.created_by, r.entry) for r in registrations]
        q_task = self._q(_INSERT_TASK)
        q_reg = self._q(f"INSERT INTO registrations ({_REG_COLS}) VALUES (?,?,?,?,?,?,?,?)")
        errors = self.dialect.error

        def write(c: Any) -> None:
            # A savepoint: the writer commits a batch of callers' writes together, and this one
            # must land whole or not at all whatever the others do.
            c.execute("SAVEPOINT registrations")
            try:
                if task_rows:
                    c.cursor().executemany(q_task, task_rows)
                if reg_rows:
                    c.cursor().executemany(q_reg, reg_rows)
            except errors:
                c.execute("ROLLBACK TO registrations")
                c.execute("RELEASE registrations")
                raise
            c.execute("RELEASE registrations")

        await self._submit(write)

    def _run_writer(self, run: RunRecord, root: ActionRecord, lease: LeaseTerms | None) -> _Pipelined:
        """The write of a new run and its root action, leased to `lease`'s replica first (False,
        nothing written, when another holds it); rows captured now, as every write's are."""
        row = (run.project, run.domain, run.name, run.created_at, run.task_name, json.dumps(run.labels),
               json.dumps(run.env_vars), run.raw_data_path, int(run.overwrite_cache))
        arow = _action_row(root)
        extras = _extras_rows([root])
        q_run = self._q(f"INSERT INTO runs ({_RUN_COLS}) VALUES (?,?,?,?,?,?,?,?,?)")
        q_action = self._q(_UPSERT_ACTION)
        q_extras = self._q(_UPSERT_EXTRAS)
        now = self.dialect.now
        q_lease = self._q("INSERT INTO run_leases (project, domain, run, owner, endpoint, expires_at) "
                          f"VALUES (?,?,?,?,?,{now} + ?) ON CONFLICT (project, domain, run) DO UPDATE SET "
                          "owner=excluded.owner, endpoint=excluded.endpoint, expires_at=excluded.expires_at "
                          f"WHERE run_leases.expires_at < {now} OR run_leases.owner=excluded.owner RETURNING owner")
        lease_row = (*run.key, lease.owner, lease.endpoint, lease.ttl) if lease is not None else ()

        def write(c: Any) -> bool:
            if lease_row and not c.execute(q_lease, lease_row).fetchall():
                return False
            c.execute(q_run, row)
            c.execute(q_action, arow)
            if extras:
                c.cursor().executemany(q_extras, extras)
            return True

        return _Pipelined(write)

    async def put_run(self, run: RunRecord, root: ActionRecord, lease: LeaseTerms | None = None) -> bool:
        return bool(await self._submit(self._run_writer(run, root, lease)))

    def put_actions_nowait(self, actions: list[ActionRecord]) -> "asyncio.Future[Any]":
        """Queue action upserts; the returned future resolves once they are committed."""
        rows = [_action_row(a) for a in actions]
        extras = _extras_rows(actions)
        done_runs = [(a.project, a.domain, a.run) for a in actions if a.name == "a0" and a.terminal]
        return self._submit(ActionRows(rows, extras, done_runs, self._write_action_rows))

    @functools.cached_property
    def _action_queries(self) -> tuple[str, str, str]:
        q_action, q_extras, q_done = (self._q(q) for q in ACTION_WRITES)
        return q_action, q_extras, q_done

    def _write_action_rows(self, c: Any, rows: list[tuple], extras: list[tuple], done_runs: list[tuple]) -> None:
        """Upsert action rows (`_action_row`), their `action_extras` rows, and mark runs done."""
        q_action, q_extras, q_done = self._action_queries
        cur = c.cursor()
        cur.executemany(q_action, rows)
        if extras:
            cur.executemany(q_extras, extras)
        if done_runs:
            cur.executemany(q_done, done_runs)

    async def put_actions(self, actions: list[ActionRecord]) -> None:
        await self.put_actions_nowait(actions)

    async def put_cache(self, entry: CacheRecord) -> None:
        row = (*entry.key, entry.outputs_uri, entry.created_at, entry.source_run, entry.source_action)
        q = self._q(_UPSERT_CACHE)
        await self._submit(_Pipelined(lambda c: c.execute(q, row)))

    async def delete_cache(self, task_name: str | None) -> int:
        q = self._q("DELETE FROM cache WHERE task_name=?")

        def write(c: Any) -> int:
            if task_name:
                return c.execute(q, (task_name,)).rowcount
            return c.execute("DELETE FROM cache").rowcount

        return await self._submit(write)

    async def put_limits(self, project: str, domain: str, limits: dict[str, str]) -> None:
        q = self._q(_UPSERT_LIMITS)
        await self._submit(_Pipelined(lambda c: c.execute(q, (project, domain, json.dumps(limits)))))

    # -- reads ----------------------------------------------------------------------------------

    async def get_task(self, key: TaskKey) -> tuple[str, bytes] | None:
        q = self._q("SELECT digest, spec FROM tasks WHERE project=? AND domain=? AND name=? AND version=?")
        row = await self._read(lambda c: c.execute(q, key).fetchone())
        return (row[0], bytes(row[1])) if row else None

    async def get_registration(self, key: TaskKey) -> RegistrationRecord | None:
        q = self._q(f"SELECT {_REG_COLS} FROM registrations WHERE project=? AND domain=? AND name=? AND version=?")
        row = await self._read(lambda c: c.execute(q, key).fetchone())
        return _registration(row) if row else None

    async def latest_registration(self, project: str, domain: str, name: str) -> RegistrationRecord | None:
        q = self._q(f"SELECT {_REG_COLS} FROM registrations WHERE project=? AND domain=? AND name=? "
                    f"ORDER BY created_at DESC, {self.dialect.insertion_order} DESC LIMIT 1")
        row = await self._read(lambda c: c.execute(q, (project, domain, name)).fetchone())
        return _registration(row) if row else None

    async def list_registrations(self, project: str, domain: str, name: str | None, limit: int,
                                 latest_only: bool = False) -> list[RegistrationRecord]:
        order = self.dialect.insertion_order
        where = "r.project=? AND r.domain=?" + (" AND r.name=?" if name else "")
        params: list[Any] = [project, domain] + ([name] if name else [])
        if latest_only:
            where += (" AND NOT EXISTS (SELECT 1 FROM registrations n WHERE n.project=r.project AND "
                      "n.domain=r.domain AND n.name=r.name AND (n.created_at > r.created_at OR "
                      f"(n.created_at = r.created_at AND n.{order} > r.{order})))")
        cols = ", ".join(f"r.{c.strip()}" for c in _REG_COLS.split(","))
        q = self._q(f"SELECT {cols} FROM registrations r WHERE {where} "
                    f"ORDER BY r.name, r.created_at DESC, r.{order} DESC LIMIT ?")
        rows = await self._read(lambda c: c.execute(q, (*params, limit or self.dialect.no_limit)).fetchall())
        return [_registration(r) for r in rows]

    async def get_run(self, project: str, domain: str, name: str) -> RunRecord | None:
        q = self._q(f"SELECT {_RUN_COLS} FROM runs WHERE project=? AND domain=? AND name=?")
        row = await self._read(lambda c: c.execute(q, (project, domain, name)).fetchone())
        return _run_from_row(row) if row else None

    async def get_actions(self, project: str, domain: str, run: str) -> list[ActionRecord]:
        q = self._q(f"SELECT {_ACTION_COLS} FROM actions WHERE project=? AND domain=? AND run=?")
        q_extras = self._q("SELECT name, recovered_from, usage FROM action_extras WHERE project=? AND domain=? AND run=?")
        key = (project, domain, run)

        def read(c: Any) -> list[ActionRecord]:
            return _with_extras(c, q_extras, key, [_action_from_row(r) for r in c.execute(q, key).fetchall()])

        return await self._read(read)

    async def list_runs(self, project: str, domain: str, limit: int) -> list[RunRecord]:
        q = self._q(f"SELECT {_RUN_COLS} FROM runs WHERE project=? AND domain=? ORDER BY created_at DESC LIMIT ?")
        rows = await self._read(lambda c: c.execute(q, (project, domain, limit or self.dialect.no_limit)).fetchall())
        return [_run_from_row(r) for r in rows]

    async def run_roots(self, project: str, domain: str, limit: int) -> list[tuple[RunRecord, ActionRecord | None, int]]:
        """Newest runs with their root action and action count (for listings)."""
        q_runs = self._q(f"SELECT {_RUN_COLS} FROM runs WHERE project=? AND domain=? ORDER BY created_at DESC LIMIT ?")
        q_root = self._q(f"SELECT {_ACTION_COLS} FROM actions WHERE project=? AND domain=? AND run=? AND name='a0'")
        q_count = self._q("SELECT COUNT(*) FROM actions WHERE project=? AND domain=? AND run=?")

        def read(c: Any) -> list:
            out = []
            for row in c.execute(q_runs, (project, domain, limit or self.dialect.no_limit)).fetchall():
                root = c.execute(q_root, row[:3]).fetchone()
                count = c.execute(q_count, row[:3]).fetchone()[0]
                out.append((_run_from_row(row), _action_from_row(root) if root else None, count))
            return out

        return await self._read(read)

    async def unfinished_runs(self) -> list[RunRecord]:
        rows = await self._read(lambda c: c.execute(f"SELECT {_RUN_COLS} FROM runs WHERE done=0").fetchall())
        return [_run_from_row(r) for r in rows]

    async def max_seq(self) -> int:
        row = await self._read(lambda c: c.execute("SELECT MAX(seq) FROM actions").fetchone())
        return int(row[0] or 0)

    async def all_cache(self) -> list[CacheRecord]:
        rows = await self._read(lambda c: c.execute(f"SELECT {_CACHE_COLS} FROM cache").fetchall())
        return [CacheRecord(*r) for r in rows]

    async def all_limits(self) -> dict[tuple[str, str], dict[str, str]]:
        rows = await self._read(lambda c: c.execute("SELECT project, domain, limits FROM limits").fetchall())
        return {(r[0], r[1]): json.loads(r[2]) for r in rows}

    # -- replica leases (scale-out) -------------------------------------------------------------

    async def claim_runs(self, owner: str, endpoint: str, ttl: float,
                         key: tuple[str, str, str] | None = None) -> list[RunRecord]:
        now = self.dialect.now
        only = " AND r.project=? AND r.domain=? AND r.name=?" if key else ""
        q_claim = self._q(
            "INSERT INTO run_leases (project, domain, run, owner, endpoint, expires_at) "
            f"SELECT r.project, r.domain, r.name, ?, ?, {now} + ? FROM runs r LEFT JOIN run_leases l "
            "ON l.project=r.project AND l.domain=r.domain AND l.run=r.name "
            f"WHERE r.done=0 AND (l.run IS NULL OR l.expires_at < {now} OR l.owner=?){only} "
            "ON CONFLICT (project, domain, run) DO UPDATE SET owner=excluded.owner, endpoint=excluded.endpoint, "
            f"expires_at=excluded.expires_at WHERE run_leases.expires_at < {now} OR run_leases.owner=excluded.owner "
            "RETURNING project, domain, run")
        params = (owner, endpoint, ttl, owner, *(key or ()))
        claimed = await self._submit(lambda c: c.execute(q_claim, params).fetchall())
        runs = []
        for row in claimed:
            run = await self.get_run(row[0], row[1], row[2])
            if run is not None:
                runs.append(run)
        return runs

    async def renew_leases(self, owner: str, ttl: float, endpoint: str) -> int:
        q = self._q(f"UPDATE run_leases SET expires_at={self.dialect.now} + ?, endpoint=? WHERE owner=?")
        return await self._submit(lambda c: c.execute(q, (ttl, endpoint, owner)).rowcount)

    async def lease_of(self, key: tuple[str, str, str]) -> tuple[str, str, float] | None:
        q = self._q(f"SELECT owner, endpoint, expires_at - {self.dialect.now} FROM run_leases "
                    "WHERE project=? AND domain=? AND run=?")
        row = await self._read(lambda c: c.execute(q, key).fetchone())
        return (row[0], row[1], float(row[2])) if row else None

    async def live_roots(self, keys: list[tuple[str, str, str]],
                         created_after: float) -> list[tuple[RunRecord, ActionRecord, int]]:
        q_live = self._q(f"SELECT {_RUN_COLS} FROM runs WHERE done=0 OR created_at > ?")
        q_run = self._q(f"SELECT {_RUN_COLS} FROM runs WHERE project=? AND domain=? AND name=?")
        q_root = self._q(f"SELECT {_ACTION_COLS} FROM actions WHERE project=? AND domain=? AND run=? AND name='a0'")
        q_count = self._q("SELECT COUNT(*) FROM actions WHERE project=? AND domain=? AND run=?")

        def read(c: Any) -> list:
            rows = {tuple(r[:3]): r for r in c.execute(q_live, (created_after,)).fetchall()}
            for key in keys:
                if key not in rows:
                    row = c.execute(q_run, key).fetchone()
                    if row is not None:
                        rows[key] = row
            out = []
            for key, row in rows.items():
                root = c.execute(q_root, key).fetchone()
                if root is not None:
                    out.append((_run_from_row(row), _action_from_row(root), c.execute(q_count, key).fetchone()[0]))
            return out

        return await self._read(read)

    # -- task-resource attributes (issue 13): defaults beside the limits of `put_limits` ----------
    # Each write below is one caller's write: the writer applies it whole or not at all (see
    # `_apply`), whatever else its batch holds.

    async def put_resource_attributes(self, project: str, domain: str, defaults: dict[str, str],
                                      limits: dict[str, str]) -> None:
        q_defaults = self._q(_upsert("resource_defaults", "project, domain, defaults", "project, domain"))
        q_limits = self._q(_UPSERT_LIMITS)
        key = (project, domain)

        def write(c: Any) -> None:
            c.execute(q_defaults, (*key, json.dumps(defaults)))
            c.execute(q_limits, (*key, json.dumps(limits)))

        await self._submit(_Pipelined(write))

    async def delete_resource_attributes(self, project: str, domain: str) -> bool:
        q_defaults = self._q("DELETE FROM resource_defaults WHERE project=? AND domain=?")
        q_limits = self._q("DELETE FROM limits WHERE project=? AND domain=?")
        key = (project, domain)

        def write(c: Any) -> bool:
            removed = c.execute(q_defaults, key).rowcount
            removed += c.execute(q_limits, key).rowcount
            return removed > 0

        return await self._submit(write)

    async def all_resource_defaults(self) -> dict[tuple[str, str], dict[str, str]]:
        rows = await self._read(lambda c: c.execute("SELECT project, domain, defaults FROM resource_defaults").fetchall())
        return {(r[0], r[1]): json.loads(r[2]) for r in rows}

    # -- secrets (issue 19): `sealed` is ciphertext only (backend/vault.py) -----------------------

    async def put_secret(self, secret: SecretRecord, overwrite: bool) -> bool:
        # One statement either way, so two replicas creating one name at once cannot both win.
        q = self._q("INSERT INTO secrets (project, domain, name, sealed, created_at, updated_at) VALUES (?,?,?,?,?,?) "
                    "ON CONFLICT (project, domain, name) DO "
                    + ("UPDATE SET sealed=excluded.sealed, updated_at=excluded.updated_at" if overwrite else "NOTHING"))
        row = (secret.project, secret.domain, secret.name, secret.sealed, secret.created_at, secret.updated_at)
        return await self._submit(lambda c: c.execute(q, row).rowcount > 0)

    async def get_secret(self, project: str, domain: str, name: str) -> SecretRecord | None:
        q = self._q("SELECT project, domain, name, sealed, created_at, updated_at FROM secrets "
                    "WHERE project=? AND domain=? AND name=?")
        row = await self._read(lambda c: c.execute(q, (project, domain, name)).fetchone())
        return SecretRecord(row[0], row[1], row[2], bytes(row[3]), row[4], row[5]) if row else None

    async def list_secrets(self, project: str, domain: str, limit: int) -> list[SecretRecord]:
        q = self._q("SELECT project, domain, name, created_at, updated_at FROM secrets WHERE project=? AND domain=? "
                    "ORDER BY name LIMIT ?")
        rows = await self._read(lambda c: c.execute(q, (project, domain, limit or self.dialect.no_limit)).fetchall())
        return [SecretRecord(r[0], r[1], r[2], b"", r[3], r[4]) for r in rows]

    async def delete_secret(self, project: str, domain: str, name: str) -> bool:
        q = self._q("DELETE FROM secrets WHERE project=? AND domain=? AND name=?")
        return await self._submit(lambda c: c.execute(q, (project, domain, name)).rowcount > 0)

    # -- triggers (issue 19) ----------------------------------------------------------------------

    async def put_triggers(self, triggers: list[TriggerRecord]) -> None:
        rows = [(t.project, t.domain, t.task_name, t.name, t.task_version, t.spec, int(t.active), t.created_at,
                 t.active_since) for t in triggers]
        q = self._q("INSERT INTO triggers (project, domain, task_name, name, task_version, spec, active, created_at, "
                    "active_since) VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT (project, domain, task_name, name) "
                    "DO UPDATE SET task_version=excluded.task_version, spec=excluded.spec")
        if rows:
            await self._submit(_Pipelined(lambda c: c.cursor().executemany(q, rows)))

    async def list_triggers(self, project: str | None = None, domain: str | None = None) -> list[TriggerRecord]:
        where, params = [], []
        for col, value in (("project", project), ("domain", domain)):
            if value:
                where.append(f"{col}=?")
                params.append(value)
        q = self._q("SELECT project, domain, task_name, name, task_version, spec, active, created_at, active_since "
                    "FROM triggers" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY task_name, name")
        rows = await self._read(lambda c: c.execute(q, params).fetchall())
        return [TriggerRecord(r[0], r[1], r[2], r[3], r[4], bytes(r[5]), bool(r[6]), r[7], r[8]) for r in rows]

    async def set_trigger_active(self, key: TriggerKey, active: bool, now: float) -> bool:
        # Activating an inactive trigger restarts `active_since` (no catching up on paused ticks).
        q = self._q("UPDATE triggers SET active=?, active_since=CASE WHEN ? = 1 AND active = 0 THEN ? "
                    "ELSE active_since END WHERE project=? AND domain=? AND task_name=? AND name=?")
        return await self._submit(lambda c: c.execute(q, (int(active), int(active), now, *key)).rowcount > 0)

    async def delete_trigger(self, key: TriggerKey) -> bool:
        q_trigger = self._q("DELETE FROM triggers WHERE project=? AND domain=? AND task_name=? AND name=?")
        q_ticks = self._q("DELETE FROM trigger_ticks WHERE project=? AND domain=? AND task_name=? AND name=?")

        def write(c: Any) -> bool:
            found = c.execute(q_trigger, key).rowcount > 0
            c.execute(q_ticks, key)
            return bool(found)

        return await self._submit(write)

    async def put_triggered_run(self, run: RunRecord, root: ActionRecord, tick: TickRecord,
                                lease: LeaseTerms | None = None) -> bool:
        trow = (tick.project, tick.domain, tick.task_name, tick.name, tick.tick, tick.run_name, tick.fired_at)
        q_tick = self._q("INSERT INTO trigger_ticks (project, domain, task_name, name, tick, run_name, fired_at) "
                         "VALUES (?,?,?,?,?,?,?) ON CONFLICT DO NOTHING")
        q_untick = self._q("DELETE FROM trigger_ticks WHERE project=? AND domain=? AND task_name=? AND name=? "
                           "AND tick=?")
        q_last = self._q("UPDATE triggers SET last_tick=?, last_run=?, last_fired_at=? WHERE project=? AND "
                         "domain=? AND task_name=? AND name=? AND last_tick < ?")
        put_run = self._run_writer(run, root, lease)

        def write(c: Any) -> bool:
            # The tick's row first: its primary key makes a second fire of the tick (after a
            # restart, or by another replica) a no-op; the run is written in the same transaction.
            if c.execute(q_tick, trow).rowcount == 0:
                return False
            if not put_run(c):  # another replica holds the run's name: the tick is not ours either
                c.execute(q_untick, trow[:5])
                return False
            c.execute(q_last, (tick.tick, tick.run_name, tick.fired_at, *trow[:4], tick.tick))
            return True

        return await self._submit(write)

    async def last_ticks(self) -> dict[TriggerKey, TickRecord]:
        # Kept on the trigger's row (written with each fire), so a pass reads one row per trigger
        # however many ticks have fired.
        rows = await self._read(lambda c: c.execute(
            "SELECT project, domain, task_name, name, last_tick, last_run, last_fired_at FROM triggers "
            "WHERE last_tick > 0").fetchall())
        return {(r[0], r[1], r[2], r[3]): TickRecord(*r) for r in rows}

    # -- DeleteRun: a finished run's records ------------------------------------------------------

    async def delete_run(self, project: str, domain: str, name: str) -> int:
        key = (project, domain, name)
        q_actions = self._q("DELETE FROM actions WHERE project=? AND domain=? AND run=?")
        # A run made again under the name (--overwrite) inherits none of these.
        q_rest = [self._q(f"DELETE FROM {table} WHERE project=? AND domain=? AND {col}=?")
                  for table, col in (("action_extras", "run"), ("rerun_sources", "run"), ("run_leases", "run"),
                                     ("runs", "name"))]

        def write(c: Any) -> int:
            count = c.execute(q_actions, key).rowcount
            for q in q_rest:
                c.execute(q, key)
            return int(count)

        return await self._submit(write)

    # -- rerun and recovery (issue 17): a rerun's source, kept so a restarted backend goes on ------

    async def put_rerun_source(self, project: str, domain: str, run: str, source: bytes) -> None:
        q = self._q(_upsert("rerun_sources", "project, domain, run, source", "project, domain, run"))
        await self._submit(_Pipelined(lambda c: c.execute(q, (project, domain, run, source))))

    async def get_rerun_source(self, project: str, domain: str, run: str) -> bytes | None:
        q = self._q("SELECT source FROM rerun_sources WHERE project=? AND domain=? AND run=?")
        row = await self._read(lambda c: c.execute(q, (project, domain, run)).fetchone())
        return bytes(row[0]) if row else None


def _resolve_all(results: list[tuple[asyncio.Future, Any, BaseException | None]]) -> None:
    for fut, value, exc in results:
        if fut.done():
            continue
        if exc is not None:
            fut.set_exception(exc)
        else:
            fut.set_result(value)
