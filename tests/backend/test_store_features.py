"""The tables of resource attributes, secrets, triggers, attempt records and reruns behave alike
on both stores (SQLite and a real PostgreSQL): what the services rely on when they write them."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, Awaitable, Callable

import pytest

from flyte_jupyter._internal.wire.proto import common_pb2 as pb
from flyte_jupyter.backend.store.factory import make_store
from flyte_jupyter.backend.store.records import (
    ActionRecord,
    LeaseTerms,
    RunRecord,
    SecretRecord,
    TickRecord,
    TriggerRecord,
)


def _on_store(store_url: str, body: Callable[[Any], Awaitable[None]]) -> None:
    async def go() -> None:
        store = make_store(store_url, Path("unused"))
        await store.open()
        try:
            await body(store)
        finally:
            await store.close()

    asyncio.run(go())


def _run(name: str) -> tuple[RunRecord, ActionRecord]:
    return RunRecord("p", "d", name, 1.0, "t"), ActionRecord("p", "d", name, "a0", "", "t", "v", queued_at=1.0)


def test_resource_attributes_are_replaced_and_removed_whole(store_url: str) -> None:
    async def body(store: Any) -> None:
        await store.put_resource_attributes("p", "d", {"cpu": "1"}, {"memory": "2Gi"})
        await store.put_resource_attributes("p", "d", {"cpu": "2"}, {"memory": "4Gi"})
        assert await store.all_resource_defaults() == {("p", "d"): {"cpu": "2"}}
        assert await store.all_limits() == {("p", "d"): {"memory": "4Gi"}}
        assert await store.delete_resource_attributes("p", "d") is True
        assert await store.delete_resource_attributes("p", "d") is False
        assert await store.all_resource_defaults() == {} and await store.all_limits() == {}

    _on_store(store_url, body)


def test_a_secret_is_refused_twice_unless_overwritten_and_an_overwrite_keeps_its_creation(store_url: str) -> None:
    async def body(store: Any) -> None:
        assert await store.put_secret(SecretRecord("p", "d", "k", b"\x00one", 1.0, 1.0), overwrite=False)
        assert not await store.put_secret(SecretRecord("p", "d", "k", b"two", 2.0, 2.0), overwrite=False)
        assert (await store.get_secret("p", "d", "k")).sealed == b"\x00one"
        assert await store.put_secret(SecretRecord("p", "d", "k", b"three", 3.0, 3.0), overwrite=True)
        got = await store.get_secret("p", "d", "k")
        assert (got.sealed, got.created_at, got.updated_at) == (b"three", 1.0, 3.0)
        await store.put_secret(SecretRecord("p", "d", "a", b"x", 1.0, 1.0), overwrite=False)
        listed = await store.list_secrets("p", "d", 0)
        assert [(s.name, s.sealed) for s in listed] == [("a", b""), ("k", b"")]  # by name, no values
        assert [s.name for s in await store.list_secrets("p", "d", 1)] == ["a"]
        assert await store.delete_secret("p", "d", "k") and not await store.delete_secret("p", "d", "k")
        assert await store.get_secret("p", "d", "k") is None

    _on_store(store_url, body)


def test_a_trigger_keeps_its_pause_across_a_redeploy_and_a_tick_fires_once(store_url: str) -> None:
    key = ("p", "d", "t", "hourly")

    async def body(store: Any) -> None:
        await store.put_triggers([TriggerRecord(*key, "v1", b"spec1", True, 1.0, 1.0)])
        assert await store.set_trigger_active(key, False, 5.0)
        await store.put_triggers([TriggerRecord(*key, "v2", b"spec2", True, 9.0, 9.0)])  # redeployed
        [t] = await store.list_triggers("p", "d")
        assert (t.task_version, t.spec, t.active, t.active_since) == ("v2", b"spec2", False, 1.0)
        assert await store.set_trigger_active(key, True, 7.0)
        assert await store.set_trigger_active(key, True, 8.0)  # active already: since stays
        assert (await store.list_triggers())[0].active_since == 7.0
        assert await store.put_triggered_run(*_run("hourly-1"), TickRecord(*key, 3600.0, "hourly-1", 2.0))
        assert not await store.put_triggered_run(*_run("hourly-2"), TickRecord(*key, 3600.0, "hourly-2", 2.0))
        assert [r.name for r in await store.list_runs("p", "d", 0)] == ["hourly-1"]
        assert (await store.last_ticks())[key].run_name == "hourly-1"
        assert await store.delete_trigger(key) and await store.list_triggers() == []
        assert not await store.set_trigger_active(key, True, 9.0)

    _on_store(store_url, body)


def test_attempts_and_origins_come_back_and_a_deleted_run_leaves_nothing_to_a_new_one(store_url: str) -> None:
    async def body(store: Any) -> None:
        run, root = _run("r")
        root.recovered_from = "old/a0"
        root.attempts = [pb.AttemptRecord(attempt=1, phase=pb.PHASE_FAILED, started_at=1.0, ended_at=2.0)]
        root.usage = [pb.AttemptUsage(attempt=1, cpu_seconds=0.5)]
        await store.put_rerun_source("p", "d", "r", b"\x01source")
        await store.put_run(run, root)
        [got] = await store.get_actions("p", "d", "r")
        assert got.recovered_from == "old/a0" and [a.attempt for a in got.attempts] == [1]
        assert got.usage[0].cpu_seconds == 0.5
        assert await store.get_rerun_source("p", "d", "r") == b"\x01source"
        assert await store.delete_run("p", "d", "r") == 1
        assert await store.get_run("p", "d", "r") is None and await store.get_rerun_source("p", "d", "r") is None
        await store.put_run(*_run("r"))  # the name again (--overwrite)
        [fresh] = await store.get_actions("p", "d", "r")
        assert fresh.recovered_from == "" and fresh.attempts == [] and fresh.usage == []

    _on_store(store_url, body)


def test_of_two_replicas_creating_one_run_only_the_first_gets_it_and_a_refused_run_leaves_no_lease(
        store_url: str) -> None:
    async def body(store: Any) -> None:
        key = ("p", "d", "r")
        assert await store.put_run(*_run("r"), LeaseTerms("a", "h:1", 30.0))
        run, root = _run("r")
        root.task_name = "other"
        assert not await store.put_run(run, root, LeaseTerms("b", "h:2", 30.0))  # a's lease is live
        assert [a.task_name for a in await store.get_actions(*key)] == ["t"]  # nothing of b's written
        assert (await store.lease_of(key))[:2] == ("a", "h:1")
        assert await store.put_run(*_run("s"), LeaseTerms("b", "h:2", -1.0))  # expired at once
        with pytest.raises(store.dialect.error):  # the lease is free, but the name is taken: refused whole
            await store.put_run(*_run("s"), LeaseTerms("a", "h:1", 30.0))
        assert (await store.lease_of(("p", "d", "s")))[0] == "b"

    _on_store(store_url, body)


def test_a_tick_whose_run_another_replica_leased_is_not_recorded(store_url: str) -> None:
    key = ("p", "d", "t", "hourly")

    async def body(store: Any) -> None:
        await store.put_triggers([TriggerRecord(*key, "v1", b"spec1", True, 1.0, 1.0)])
        assert await store.put_run(*_run("hourly-1"), LeaseTerms("b", "h:2", 30.0))
        tick = TickRecord(*key, 3600.0, "hourly-1", 2.0)
        assert not await store.put_triggered_run(*_run("hourly-1"), tick, LeaseTerms("a", "h:1", 30.0))
        assert await store.last_ticks() == {}
        again = TickRecord(*key, 3600.0, "hourly-1b", 3.0)  # the tick is still free to fire
        assert await store.put_triggered_run(*_run("hourly-1b"), again, LeaseTerms("a", "h:1", 30.0))
        assert (await store.last_ticks())[key].run_name == "hourly-1b"
        assert (await store.lease_of(("p", "d", "hourly-1b")))[0] == "a"

    _on_store(store_url, body)


def test_writes_that_read_their_result_are_right_beside_pipelined_writes_in_one_batch(store_url: str) -> None:
    """On PostgreSQL a batch's writes travel in a pipeline, except those that read a row count:
    every caller still gets its own write's answer, and a write sees the ones queued before it."""
    async def body(store: Any) -> None:
        await store.put_secret(SecretRecord("p", "d", "k", b"x", 1.0, 1.0), overwrite=False)
        child = ActionRecord("p", "d", "r", "c1", "a0", "t", "v", seq=2, phase=pb.PHASE_RUNNING)
        results = await asyncio.gather(
            store.put_run(*_run("r"), LeaseTerms("a", "h:1", 30.0)),
            store.delete_secret("p", "d", "k"),
            store.put_actions([child]),
            store.delete_secret("p", "d", "missing"),
            store.put_run(*_run("r"), LeaseTerms("b", "h:2", 30.0)),  # a's lease, written just before
            return_exceptions=True)
        assert results == [True, True, None, False, False]
        assert sorted(a.name for a in await store.get_actions("p", "d", "r")) == ["a0", "c1"]
        assert await store.get_secret("p", "d", "k") is None

    _on_store(store_url, body)


def test_a_batch_of_action_changes_keeps_the_last_change_of_each_action_with_every_column(store_url: str) -> None:
    """A fan-out's state changes are group-committed as one merged batch (on PostgreSQL through
    libpq's pipeline directly): every caller is answered, the last change of an action wins, and
    every column (errors and attempts as bytes, times, empty strings, NULLs) comes back as written."""
    async def body(store: Any) -> None:
        await store.put_run(*_run("r"))
        queued = [ActionRecord("p", "d", "r", f"c{i}", "a0", "t", "v", seq=10 + i, phase=pb.PHASE_QUEUED,
                               queued_at=2.5) for i in range(50)]
        failed = ActionRecord("p", "d", "r", "c0", "a0", "t", "v", seq=100, phase=pb.PHASE_FAILED, attempt=2,
                              queued_at=2.5, started_at=3.25, ended_at=1e-05, inputs_uri="s3://b/in.pb",
                              error=pb.ActionError(kind="ValueError", message="b\u00e4d \x01 'quoted'"),
                              attempts=[pb.AttemptRecord(attempt=1, phase=pb.PHASE_FAILED)], handle="")
        root_done = ActionRecord("p", "d", "r", "a0", "", "t", "v", seq=101, phase=pb.PHASE_SUCCEEDED, queued_at=1.0)
        assert await asyncio.gather(*(store.put_actions([a]) for a in queued), store.put_actions([failed]),
                                    store.put_actions([root_done])) == [None] * 52
        got = {a.name: a for a in await store.get_actions("p", "d", "r")}
        assert len(got) == 51 and got["c1"].phase == pb.PHASE_QUEUED and got["c49"].seq == 59
        c0 = got["c0"]
        assert (c0.phase, c0.attempt, c0.seq, c0.started_at, c0.ended_at) == (pb.PHASE_FAILED, 2, 100, 3.25, 1e-05)
        assert c0.error.message == "b\u00e4d \x01 'quoted'" and [r.attempt for r in c0.attempts] == [1]
        assert c0.inputs_uri == "s3://b/in.pb" and c0.outputs_uri == "" and got["c1"].error is None
        assert got["c1"].attempts == [] and got["c1"].queued_at == 2.5
        assert [r.name for r in await store.unfinished_runs()] == []  # the root's end marked the run done

    _on_store(store_url, body)


@pytest.mark.postgres
def test_a_failing_action_change_fails_alone_and_a_cut_connection_fails_its_batch_then_recovers(
        postgres_server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """PostgreSQL only: SQLite stores any integer an action row holds. A value PostgreSQL refuses
    (a seq past BIGINT) fails its own caller only; a connection the server cut fails the batch in
    flight (never a false "done") and the next batch runs on a new connection."""
    import psycopg

    from flyte_jupyter.backend.store.pg_pipeline import ActionPipeline

    url = postgres_server.new_database()
    committed = []  # batches that went the fast way and committed
    send = ActionPipeline._send_and_wait

    def counted(conn: Any, encoded: Any) -> None:
        send(conn, encoded)
        committed.append(len(encoded))

    monkeypatch.setattr(ActionPipeline, "_send_and_wait", staticmethod(counted))

    async def body(store: Any) -> None:
        await store.put_run(*_run("r"))
        await asyncio.gather(*(store.put_actions([ActionRecord("p", "d", "r", "c0", "a0", "t", "v", seq=i)])
                               for i in range(20)))
        assert committed and sum(committed) <= 20  # merged: the last change of c0, once per batch
        good = ActionRecord("p", "d", "r", "c1", "a0", "t", "v", seq=2, phase=pb.PHASE_RUNNING)
        bad = ActionRecord("p", "d", "r", "c2", "a0", "t", "v", seq=2**63, phase=pb.PHASE_RUNNING)
        results = await asyncio.gather(store.put_actions([good]), store.put_actions([bad]), return_exceptions=True)
        assert results[0] is None and isinstance(results[1], psycopg.Error)
        assert [a.name for a in await store.get_actions("p", "d", "r")] == ["a0", "c0", "c1"]
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() "
                          "AND application_name = 'flyte-jupyter-backend' AND query NOT LIKE 'SELECT%'")  # the writer's
        cut = ActionRecord("p", "d", "r", "c3", "a0", "t", "v", seq=3, phase=pb.PHASE_RUNNING)
        with pytest.raises(psycopg.Error):
            await store.put_actions([cut])
        before = len(committed)
        await store.put_actions([cut])  # a new connection, its statements prepared again
        assert len(committed) == before + 1
        names = {a.name for a in await store.get_actions("p", "d", "r")}
        assert names == {"a0", "c0", "c1", "c3"}

    _on_store(url, body)
