"""The plugin tests share one SQLite database, made before the flows import it."""

from __future__ import annotations

import atexit
import os
import shutil
import sqlite3
import tempfile
from pathlib import Path

_DB_DIR = Path(tempfile.mkdtemp(prefix="flyte-plugin-tests-"))
atexit.register(shutil.rmtree, _DB_DIR, True)
DB = _DB_DIR / "app.db"
os.environ["PLUGIN_TEST_DB"] = str(DB)
with sqlite3.connect(DB) as _conn:
    _conn.execute("create table if not exists t (x integer, name text)")
    _conn.execute("delete from t")
    _conn.executemany("insert into t values (?, ?)", [(i, f"n{i}") for i in range(10)])
