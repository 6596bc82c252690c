"""Schema migrations for every SQL store, from this one list.

Each step has a version (1, 2, 3, ... in order, never renumbered, never edited once released) and
statements written once for both databases: `{blob}`, `{real}`, `{int}` stand for the column types
of the dialect (`dialect.py`); everything else must be SQL both SQLite and PostgreSQL accept.

`migrate(conn, dialect)` applies the steps newer than the database's `schema_version`, each in its
own transaction together with its `schema_version` row, so a crash mid-step leaves the previous
version and the next start applies it again (idempotent: steps use `IF NOT EXISTS`). Concurrent
starts are serialized (an advisory lock on PostgreSQL, `BEGIN IMMEDIATE` on SQLite). A database
whose version is newer than the last step here belongs to a newer flyte-jupyter: `SchemaTooNew`.

To add a table or column (secrets, triggers, resource attributes, ...): append a `Migration` with
the next version and its statements (`CREATE TABLE IF NOT EXISTS ...`, `CREATE INDEX IF NOT EXISTS
...`; for a new column on an existing table use `ALTER TABLE t ADD COLUMN c TYPE` — it runs once,
guarded by the version). Then add the `Store` methods to `base.py` and `sql.py`; both stores get
them. `tests/backend/test_schema.py` checks every step on both databases.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from flyte_jupyter.backend.store.dialect import Dialect


@dataclasses.dataclass(frozen=True)
class Migration:
    version: int
    description: str
    statements: tuple[str, ...]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "tasks, runs, actions, cache, limits, registrations", (
        """CREATE TABLE IF NOT EXISTS tasks (
          project TEXT, domain TEXT, name TEXT, version TEXT, digest TEXT, spec {blob},
          PRIMARY KEY (project, domain, name, version))""",
        """CREATE TABLE IF NOT EXISTS runs (
          project TEXT, domain TEXT, name TEXT, created_at {real}, task_name TEXT, labels TEXT, env_vars TEXT,
          raw_data_path TEXT, overwrite_cache INTEGER, done INTEGER DEFAULT 0,
          PRIMARY KEY (project, domain, name))""",
        """CREATE TABLE IF NOT EXISTS actions (
          project TEXT, domain TEXT, run TEXT, name TEXT, parent TEXT, task_name TEXT, task_version TEXT,
          task_type TEXT, grp TEXT, phase INTEGER, attempt INTEGER, max_attempts INTEGER, error {blob},
          cache_hit INTEGER, queued_at {real}, started_at {real}, ended_at {real}, inputs_uri TEXT,
          outputs_uri TEXT, inputs_hash TEXT, overwrite_cache INTEGER, seq {int}, handle TEXT, not_before {real},
          PRIMARY KEY (project, domain, run, name))""",
        "CREATE INDEX IF NOT EXISTS actions_seq ON actions (seq)",
        """CREATE TABLE IF NOT EXISTS cache (
          project TEXT, domain TEXT, task_name TEXT, cache_version TEXT, inputs_hash TEXT, outputs_uri TEXT,
          created_at {real}, source_run TEXT, source_action TEXT,
          PRIMARY KEY (project, domain, task_name, cache_version, inputs_hash))""",
        """CREATE TABLE IF NOT EXISTS limits (
          project TEXT, domain TEXT, limits TEXT, PRIMARY KEY (project, domain))""",
        """CREATE TABLE IF NOT EXISTS registrations (
          {ord_column} project TEXT, domain TEXT, name TEXT, version TEXT, digest TEXT, created_at {real},
          created_by TEXT, entry {blob},
          PRIMARY KEY (project, domain, name, version))""",
        "CREATE INDEX IF NOT EXISTS registrations_newest ON registrations (project, domain, name, created_at)",
    )),
    Migration(2, "indices for the panel's listings and for recovery", (
        "CREATE INDEX IF NOT EXISTS runs_newest ON runs (project, domain, created_at)",
        "CREATE INDEX IF NOT EXISTS runs_unfinished ON runs (done) WHERE done = 0",
    )),
    Migration(3, "run leases: which backend replica owns a run, until when (database time)", (
        """CREATE TABLE IF NOT EXISTS run_leases (
          project TEXT, domain TEXT, run TEXT, owner TEXT, endpoint TEXT, expires_at {real},
          PRIMARY KEY (project, domain, run))""",
        "CREATE INDEX IF NOT EXISTS run_leases_owner ON run_leases (owner)",
    )),
    Migration(4, "resource attributes (issue 13): defaults per project and domain (their limits are in limits)", (
        """CREATE TABLE IF NOT EXISTS resource_defaults (
          project TEXT, domain TEXT, defaults TEXT, PRIMARY KEY (project, domain))""",
    )),
    Migration(5, "secrets and triggers (issue 19): sealed secrets, deployed triggers, fired ticks", (
        # `sealed` is ciphertext only (backend/vault.py)
        """CREATE TABLE IF NOT EXISTS secrets (
          project TEXT, domain TEXT, name TEXT, sealed {blob}, created_at {real}, updated_at {real},
          PRIMARY KEY (project, domain, name))""",
        """CREATE TABLE IF NOT EXISTS triggers (
          project TEXT, domain TEXT, task_name TEXT, name TEXT, task_version TEXT, spec {blob}, active INTEGER,
          created_at {real}, active_since {real}, last_tick {real} DEFAULT 0, last_run TEXT DEFAULT '',
          last_fired_at {real} DEFAULT 0,
          PRIMARY KEY (project, domain, task_name, name))""",
        """CREATE TABLE IF NOT EXISTS trigger_ticks (
          project TEXT, domain TEXT, task_name TEXT, name TEXT, tick {real}, run_name TEXT, fired_at {real},
          PRIMARY KEY (project, domain, task_name, name, tick))""",
    )),
    Migration(6, "attempt records: every attempt of an action (a serialized AttemptHistory)", (
        "ALTER TABLE actions ADD COLUMN attempts {blob}",
    )),
    Migration(7, "rerun and recovery (issue 17): an action's origin and ended attempts; a rerun's source", (
        """CREATE TABLE IF NOT EXISTS action_extras (
          project TEXT, domain TEXT, run TEXT, name TEXT, recovered_from TEXT, usage {blob},
          PRIMARY KEY (project, domain, run, name))""",
        """CREATE TABLE IF NOT EXISTS rerun_sources (
          project TEXT, domain TEXT, run TEXT, source {blob}, PRIMARY KEY (project, domain, run))""",
    )),
)

LATEST = MIGRATIONS[-1].version


class SchemaTooNew(RuntimeError):
    """The database was migrated by a newer flyte-jupyter than this one."""


def current_version(conn: Any, dialect: Dialect) -> int:
    """The database's schema version (0 for an empty database)."""
    conn.execute(dialect.ddl(
        "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied_at {real}, description TEXT)"))
    row = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
    return int(row[0] or 0)


def check_not_newer(version: int, where: str) -> None:
    if version > LATEST:
        raise SchemaTooNew(
            f"the database {where} has schema version {version}, newer than this flyte-jupyter knows "
            f"(version {LATEST}): it was migrated by a newer release. Upgrade flyte-jupyter on every "
            "backend replica (pip install -U flyte-jupyter), or point the backend at another database.")


def _begin(conn: Any, dialect: Dialect) -> None:
    conn.execute("BEGIN IMMEDIATE" if dialect.name == "sqlite" else "BEGIN")


def _lock(conn: Any, dialect: Dialect) -> None:
    """Replicas starting together migrate one at a time (on PostgreSQL even CREATE TABLE IF NOT
    EXISTS fails against a concurrent one; SQLite's BEGIN IMMEDIATE serializes already)."""
    if dialect.name != "sqlite":
        conn.execute("SELECT pg_advisory_xact_lock(7160001)")


def _locked(conn: Any, dialect: Dialect, fn: Any) -> None:
    _begin(conn, dialect)
    try:
        _lock(conn, dialect)
        fn()
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def migrate(conn: Any, dialect: Dialect, where: str) -> list[Migration]:
    """Apply the steps the database lacks (see the module docstring); returns the steps applied.
    `conn` is in autocommit mode (transactions are explicit); `where` names the database in errors."""
    applied: list[Migration] = []
    _locked(conn, dialect, lambda: check_not_newer(current_version(conn, dialect), where))
    for step in MIGRATIONS:
        _begin(conn, dialect)
        try:
            _lock(conn, dialect)
            version = current_version(conn, dialect)  # again, under the lock
            check_not_newer(version, where)
            if step.version <= version:
                conn.execute("COMMIT")
                continue
            for statement in step.statements:
                conn.execute(dialect.ddl(statement))
            conn.execute(dialect.sql("INSERT INTO schema_version (version, applied_at, description) VALUES (?,?,?)"),
                         (step.version, time.time(), step.description))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        applied.append(step)
    return applied
