"""The PostgreSQL store (psycopg 3): state for a backend that scales out (`store: {url: ...}`).

The queries and group commit are `sql.py`'s, shared with SQLite: one writer thread commits every
write queued so far in one transaction (in psycopg's pipeline mode: BEGIN, the batch's statements
and COMMIT in one round trip where no write needs a result midway; a batch of nothing but action
state changes, the hot one, through libpq's pipeline directly, `pg_pipeline.py`), and a caller is
told "done" only after PostgreSQL committed it (`synchronous_commit` as the server sets it; its
default, on, survives a crash of the database server as well as of the backend). A connection that
broke (the server restarted) is replaced before the next batch; the writes of the failed batch get
the error, as a failed commit would.
"""

from __future__ import annotations

from typing import Any, ContextManager
from urllib.parse import urlsplit, urlunsplit

from flyte_jupyter.backend.store.dialect import postgres_dialect
from flyte_jupyter.backend.store.pg_pipeline import ActionPipeline
from flyte_jupyter.backend.store.sql import ACTION_WRITES, ActionRows, SqlStore


def redact(url: str) -> str:
    """The URL without its password (for messages and logs)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{netloc[-1]}"))


class PostgresStore(SqlStore):
    """PostgreSQL at a `postgresql://` URL (libpq's URL; PG* environment variables also apply)."""

    def __init__(self, url: str) -> None:
        super().__init__(redact(url))
        self.url = url
        self.dialect = postgres_dialect()
        self._action_pipeline = ActionPipeline(ACTION_WRITES)

    def _connect(self) -> Any:
        import psycopg

        try:
            return psycopg.connect(self.url, autocommit=True, connect_timeout=10,
                                   application_name="flyte-jupyter-backend")
        except psycopg.OperationalError as exc:
            raise ConnectionError(f"cannot connect to the PostgreSQL store {self.where}: {exc}".strip()) from exc

    def _pipeline(self, conn: Any) -> ContextManager[Any]:
        return conn.pipeline()

    def _usable(self, conn: Any) -> Any:
        if conn.closed or conn.broken:
            try:
                conn.close()
            except Exception:  # noqa: BLE001 - it is broken already
                pass
            return self._connect()
        return conn

    def _commit_action_rows(self, conn: Any, writes: list[ActionRows]) -> bool:
        rows = ActionRows.merged(writes)
        return self._action_pipeline.commit(conn, rows.rows, rows.extras, rows.done_runs)
