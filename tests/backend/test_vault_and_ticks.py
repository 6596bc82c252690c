"""The two guarantees under secrets and schedules, on real SQLite (issue 19): a sealed secret opens
only with its key and under its own name; a trigger's tick is stored once, whoever writes it."""

from __future__ import annotations

import asyncio
import base64
import os
import sqlite3
import stat
from pathlib import Path

import pytest

from flyte_jupyter.backend.store.records import ActionRecord, RunRecord, TickRecord, TriggerRecord
from flyte_jupyter.backend.store.sqlite import SqliteStore
from flyte_jupyter.backend.vault import KEY_ENV, SecretVault, VaultError, load_key


def test_the_key_file_is_made_once_0600_and_the_environment_key_wins(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv(KEY_ENV, raising=False)
    first = load_key(tmp_path)
    assert stat.S_IMODE((tmp_path / "secrets.key").stat().st_mode) == 0o600
    assert load_key(tmp_path) == first and len(first) == 32
    mine = os.urandom(32)
    monkeypatch.setenv(KEY_ENV, base64.urlsafe_b64encode(mine).decode())
    assert load_key(tmp_path / "elsewhere") == mine and not (tmp_path / "elsewhere" / "secrets.key").exists()
    monkeypatch.setenv(KEY_ENV, "too-short")
    with pytest.raises(VaultError, match="32 bytes"):
        load_key(tmp_path)


def test_a_sealed_value_opens_only_with_its_key_and_under_its_own_name(tmp_path: Path) -> None:
    async def go() -> None:
        store = SqliteStore(tmp_path / "state.db")
        await store.open()
        try:
            vault = SecretVault(store, os.urandom(32))
            await vault.put("p", "d", "openai", b"sk-123", overwrite=False)
            await vault.put("p", "d", "other", b"x", overwrite=False)
            assert await vault.resolve("p", "d", ["openai", "missing"]) == {"openai": b"sk-123"}
            assert await vault.put("p", "d", "openai", b"again", overwrite=False) is None  # exists: refused
            assert await vault.resolve("p", "d", ["openai"]) == {"openai": b"sk-123"}
            # a row copied onto another name does not open
            sealed = (await store.get_secret("p", "d", "openai")).sealed  # type: ignore[union-attr]
            conn = sqlite3.connect(str(tmp_path / "state.db"))
            with conn:
                conn.execute("UPDATE secrets SET sealed=? WHERE name='other'", (sealed,))
            conn.close()
            with pytest.raises(VaultError, match="does not open"):
                await vault.resolve("p", "d", ["other"])
            with pytest.raises(VaultError, match="does not open"):  # another key
                await SecretVault(store, os.urandom(32)).resolve("p", "d", ["openai"])
        finally:
            await store.close()
        assert b"sk-123" not in (tmp_path / "state.db").read_bytes()

    asyncio.run(go())


def _run(name: str) -> tuple[RunRecord, ActionRecord]:
    return (RunRecord("p", "d", name, 1.0, "t"),
            ActionRecord("p", "d", name, "a0", "", "t", "v", queued_at=1.0))


def test_two_writers_on_one_database_store_a_tick_once(tmp_path: Path) -> None:
    """What two replicas (or a restarted backend) racing on the same tick do: one run, one tick."""
    async def go() -> None:
        a, b = SqliteStore(tmp_path / "state.db"), SqliteStore(tmp_path / "state.db")
        await a.open()
        await b.open()
        try:
            await a.put_triggers([TriggerRecord("p", "d", "t", "hourly", "v", b"", True, 0.0, 0.0)])
            def tick(run: str) -> TickRecord:
                return TickRecord("p", "d", "t", "hourly", 3600.0, run, 2.0)

            results = await asyncio.gather(a.put_triggered_run(*_run("hourly-x"), tick("hourly-x")),
                                           b.put_triggered_run(*_run("hourly-y"), tick("hourly-y")))
            assert sorted(results) == [False, True]
            names = {r.name for r in await a.list_runs("p", "d", 10)}
            assert len(names) == 1 and names <= {"hourly-x", "hourly-y"}  # the loser stored nothing
            last = (await b.last_ticks())[("p", "d", "t", "hourly")]
            assert last.tick == 3600.0 and last.run_name in names
            older = TickRecord("p", "d", "t", "hourly", 1800.0, "hourly-z", 3.0)  # a late, older tick
            assert await a.put_triggered_run(*_run("hourly-z"), older)
            assert (await a.last_ticks())[("p", "d", "t", "hourly")].tick == 3600.0  # the newest stays
        finally:
            await a.close()
            await b.close()

    asyncio.run(go())
