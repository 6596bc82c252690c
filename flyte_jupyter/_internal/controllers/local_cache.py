"""Local memoization of task outputs in a SQLite file, so cache hits carry over between runs."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outputs (
    task TEXT NOT NULL,
    version TEXT NOT NULL,
    inputs_hash TEXT NOT NULL,
    outputs BLOB NOT NULL,
    created_at REAL NOT NULL,
    run_name TEXT,
    action TEXT,
    PRIMARY KEY (task, version, inputs_hash)
)
"""


class LocalCache:
    """One connection guarded by a lock: calls are short and come from several threads."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=30)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.execute(_SCHEMA)
        self._lock = threading.Lock()

    def get(self, task: str, version: str, inputs_hash: str) -> bytes | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT outputs FROM outputs WHERE task=? AND version=? AND inputs_hash=?",
                (task, version, inputs_hash),
            ).fetchone()
        return row[0] if row else None

    def put(self, task: str, version: str, inputs_hash: str, outputs: bytes, run_name: str, action: str) -> None:
        with self._lock:
            self._conn.execute(
                "INSERT OR REPLACE INTO outputs VALUES (?, ?, ?, ?, ?, ?, ?)",
                (task, version, inputs_hash, outputs, time.time(), run_name, action),
            )

    def entries(self) -> list[dict]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT task, version, inputs_hash, length(outputs), created_at, run_name, action FROM outputs "
                "ORDER BY created_at DESC"
            ).fetchall()
        keys = ("task", "version", "inputs_hash", "size", "created_at", "run_name", "action")
        return [dict(zip(keys, row)) for row in rows]

    def clear(self, task: str | None = None) -> int:
        with self._lock:
            if task:
                cur = self._conn.execute("DELETE FROM outputs WHERE task=?", (task,))
            else:
                cur = self._conn.execute("DELETE FROM outputs")
        return cur.rowcount

    def close(self) -> None:
        with self._lock:
            self._conn.close()


_shared: dict[Path, LocalCache] = {}
_shared_lock = threading.Lock()


def local_cache() -> LocalCache:
    """The process-wide cache under the data directory (one per directory, for tests that switch)."""
    from flyte_jupyter._config import data_dir

    path = data_dir() / "cache.db"
    with _shared_lock:
        cache = _shared.get(path)
        if cache is None:
            cache = _shared[path] = LocalCache(path)
        return cache
