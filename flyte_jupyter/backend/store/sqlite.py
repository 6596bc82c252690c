"""The SQLite store (WAL mode): the embedded default behind the `Store` interface.

The queries and group commit are `sql.py`'s; this module only opens the file. WAL with
synchronous=NORMAL survives a SIGKILL of the backend: a write a caller was told is committed stays.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from flyte_jupyter.backend.store.dialect import sqlite_dialect
from flyte_jupyter.backend.store.sql import SqlStore


class SqliteStore(SqlStore):
    """SQLite (WAL) in one file."""

    def __init__(self, path: Path) -> None:
        super().__init__(str(path))
        self.path = path
        self.dialect = sqlite_dialect()

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # timeout= first: switching a new file to WAL takes a lock that concurrent opens wait for
        conn = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None, timeout=10.0)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        return conn
