"""Schema migrations and the store's batch semantics, on both databases (SQLite and a real
PostgreSQL): what a platform team sees when it migrates, upgrades or downgrades a backend."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from flyte_jupyter._internal.wire.proto import common_pb2 as pb
from flyte_jupyter.backend.store import schema
from flyte_jupyter.backend.store.factory import make_store
from flyte_jupyter.backend.store.records import ActionRecord, RunRecord


def _config(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "backend.yaml"
    path.write_text(f"store: {{url: '{url}'}}\n")
    return path


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "flyte_jupyter.cli", "backend", *args],
                          capture_output=True, text=True, timeout=120)


def _versions(url: str) -> list[int]:
    store = make_store(url, Path("unused"))
    conn = store._connect()
    try:
        return [r[0] for r in conn.execute("SELECT version FROM schema_version ORDER BY version").fetchall()]
    finally:
        conn.close()


def test_migrate_applies_every_step_once_and_again_is_a_no_op(store_url: str, tmp_path: Path) -> None:
    cfg = _config(tmp_path, store_url)
    first = _cli("migrate", "--config", str(cfg), "--data-dir", str(tmp_path / "d"))
    assert first.returncode == 0, first.stderr
    assert [f"applied migration {m.version}" in first.stdout for m in schema.MIGRATIONS] == [True] * len(schema.MIGRATIONS)
    again = _cli("migrate", "--config", str(cfg), "--data-dir", str(tmp_path / "d"))
    assert again.returncode == 0 and "nothing to do" in again.stdout and "applied" not in again.stdout
    assert _versions(store_url) == [m.version for m in schema.MIGRATIONS]


def test_a_backend_refuses_a_schema_newer_than_itself_and_says_what_to_do(store_url: str, tmp_path: Path) -> None:
    assert _cli("migrate", "--config", str(_config(tmp_path, store_url))).returncode == 0
    store = make_store(store_url, Path("unused"))
    conn = store._connect()
    conn.execute(store.dialect.sql("INSERT INTO schema_version (version, applied_at, description) VALUES (?,?,?)"),
                 (schema.LATEST + 1, 0.0, "from the future"))
    if isinstance(conn, sqlite3.Connection):
        conn.commit()
    conn.close()
    proc = subprocess.run([sys.executable, "-m", "flyte_jupyter.backend", "--data-dir", str(tmp_path / "d"),
                           "--port", "0", "--config", str(_config(tmp_path, store_url))],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert f"schema version {schema.LATEST + 1}, newer than this flyte-jupyter knows" in proc.stderr
    assert "Upgrade flyte-jupyter on every backend replica" in proc.stderr
    assert not (tmp_path / "d" / "client.yaml").exists()


def test_concurrent_migrations_apply_each_step_once(store_url: str) -> None:
    async def both() -> None:
        await asyncio.gather(*(asyncio.to_thread(make_store(store_url, Path("unused")).migrate) for _ in range(4)))

    asyncio.run(both())
    assert _versions(store_url) == [m.version for m in schema.MIGRATIONS]


def test_a_database_made_before_migrations_existed_is_adopted_with_its_data(tmp_path: Path) -> None:
    """A state.db of an older release (its tables, no schema_version): the steps apply over it."""
    db = tmp_path / "state.db"
    conn = sqlite3.connect(db)
    conn.executescript(schema.MIGRATIONS[0].statements[2].format(blob="BLOB", real="REAL", int="INTEGER", ord_column=""))
    conn.execute("INSERT INTO actions (project, domain, run, name, seq) VALUES ('p','d','r','a0',7)")
    conn.commit()
    conn.close()
    store = make_store(f"sqlite://{db}", Path("unused"))
    assert [m.version for m in store.migrate()] == [m.version for m in schema.MIGRATIONS]
    assert asyncio.run(_max_seq(store)) == 7


async def _max_seq(store: Any) -> int:
    await store.open()
    try:
        return await store.max_seq()
    finally:
        await store.close()


def test_one_failing_write_in_a_batch_fails_alone(store_url: str) -> None:
    """Writes committed together: a run created twice fails, the writes beside it land whole."""
    async def go() -> tuple[list[Any], list[str]]:
        store = make_store(store_url, Path("unused"))
        await store.open()
        try:
            run = RunRecord("p", "d", "r1", 1.0, "t")
            await store.put_run(run, ActionRecord("p", "d", "r1", "a0", "", "t", "v", seq=1))
            results = await asyncio.gather(
                store.put_run(RunRecord("p", "d", "r2", 2.0, "t"), ActionRecord("p", "d", "r2", "a0", "", "t", "v", seq=2)),
                store.put_run(run, ActionRecord("p", "d", "r1", "a0", "", "t", "v", seq=3)),  # exists: refused
                store.put_actions([ActionRecord("p", "d", "r1", "c1", "a0", "t", "v", seq=4, phase=pb.PHASE_RUNNING)]),
                return_exceptions=True)
            names = []
            for r in await store.list_runs("p", "d", 0):
                names += [f"{r.name}/{a.name}@{a.seq}" for a in await store.get_actions("p", "d", r.name)]
            names.sort()
            return results, names
        finally:
            await store.close()

    results, names = asyncio.run(go())
    assert results[0] is True and results[2] is None
    assert isinstance(results[1], Exception)
    assert names == ["r1/a0@1", "r1/c1@4", "r2/a0@2"]


@pytest.mark.parametrize(("config", "message"), [
    ("store: {url: 'mysql://u@h/db'}", "unknown scheme 'mysql'; use postgresql://"),
    ("store: {url: 'sqlite://'}", "names no file"),
    ("store: postgresql://u@h/db", "store must be a mapping {url: postgresql://"),
    ("storage: {root: 's3://b/p', options: [1]}", "storage must be a mapping {root: s3://bucket/prefix"),
])
def test_a_bad_store_or_storage_setting_is_refused_before_anything_is_written(
        tmp_path: Path, config: str, message: str) -> None:
    cfg = tmp_path / "backend.yaml"
    cfg.write_text(config + "\n")
    proc = _cli("migrate", "--config", str(cfg), "--data-dir", str(tmp_path / "d"))
    assert proc.returncode != 0 and message in proc.stderr, proc.stderr
    assert not (tmp_path / "d" / "state.db").exists()
