"""SQL tasks on a real backend: the Sql plugin runs the query in the backend (no action process),
binds inputs as parameters, returns an io.DataFrame, and fails with the database's message."""

from __future__ import annotations

import sqlite3

import pandas as pd
import pytest
from conftest import DB
from plugin_flows import sqlflows

import flyte_jupyter as flyte
from flyte_jupyter.errors import ActionFailedError, BackendError


def test_a_sql_task_returns_its_rows_as_a_dataframe(flyte_backend) -> None:  # type: ignore[no-untyped-def]
    run = flyte.with_runcontext(mode="remote").run(sqlflows.count, lo=3)
    frame = run.outputs()
    assert isinstance(frame, flyte.io.DataFrame)
    assert frame.open(pd.DataFrame).all_sync()["n"].tolist() == [6]
    root = run.actions["a0"]
    assert root.phase is flyte.Phase.SUCCEEDED
    logs = "\n".join(run.logs())
    assert "sql (sqlite)" in logs and "1 input(s) bound as parameters" in logs and "1 row(s)" in logs
    # No action process ran: the local executor made no work directory for the attempt.
    assert not list((flyte_backend.data_dir / "work").rglob(f"{run.name}/a0-1"))


def test_a_hostile_input_is_data_not_sql(flyte_backend) -> None:  # type: ignore[no-untyped-def]
    hostile = "n1' or '1'='1'; drop table t; --"
    out = flyte.with_runcontext(mode="remote").run(sqlflows.by_name, who=hostile).outputs()
    assert isinstance(out, pd.DataFrame) and len(out) == 0
    with sqlite3.connect(DB) as conn:  # the table is still there, whole
        assert conn.execute("select count(*) from t").fetchone()[0] == 10
    out = flyte.with_runcontext(mode="remote").run(sqlflows.by_name, who="n4").outputs()
    assert out.to_dict("records") == [{"x": 4, "name": "n4"}]


def test_a_syntax_error_fails_the_action_with_the_database_message(flyte_backend) -> None:  # type: ignore[no-untyped-def]
    run = flyte.with_runcontext(mode="remote").run(sqlflows.broken, lo=1)
    with pytest.raises(ActionFailedError) as failed:
        run.wait()
        run.outputs()
    message = str(failed.value)
    assert 'near "selec": syntax error' in message
    root = run.actions["a0"]
    assert root.phase is flyte.Phase.FAILED
    assert root.attempts == 1  # a user error: not retried, although the task allows 2 retries


def test_a_python_parent_calls_a_sql_child(flyte_backend) -> None:  # type: ignore[no-untyped-def]
    run = flyte.with_runcontext(mode="remote").run(sqlflows.total_above, lo=6)
    assert run.outputs() == 3
    child = [a for a in run.actions.values() if a.name != "a0"]
    assert len(child) == 1 and child[0].task == "plugin_tests.count"


def test_a_long_query_is_interrupted_by_its_timeout(flyte_backend) -> None:  # type: ignore[no-untyped-def]
    run = flyte.with_runcontext(mode="remote").run(sqlflows.slow, n=10**10)
    with pytest.raises(ActionFailedError):
        run.outputs()
    assert run.actions["a0"].phase is flyte.Phase.TIMED_OUT


def test_a_sql_config_the_plugin_cannot_run_is_refused_at_create_run(flyte_backend) -> None:  # type: ignore[no-untyped-def]
    bad = sqlflows.SQLite3Task(name="plugin_tests.bad_dialect", query_template="select 1",
                               task_config=sqlflows.SQLite3Config(uri=str(DB)))
    bad._dialect = "oracle"
    with pytest.raises(BackendError, match="dialect 'oracle'"):
        flyte.with_runcontext(mode="remote").run(bad)


def test_local_mode_runs_the_same_query_in_the_kernel(tmp_path) -> None:  # type: ignore[no-untyped-def]
    flyte.init(raw_data_path=str(tmp_path / "raw"))
    frame = flyte.run(sqlflows.count, lo=8).outputs()
    assert frame.open(pd.DataFrame).all_sync()["n"].tolist() == [1]


def test_a_template_naming_an_undeclared_input_is_refused_when_declared() -> None:
    with pytest.raises(ValueError, match="input 'hi', which is not declared"):
        sqlflows.SQLite3Task(name="x", query_template="select {{ .inputs.hi }}", inputs={},
                             task_config=sqlflows.SQLite3Config(uri=str(DB)))
    with pytest.raises(ValueError, match="only"):
        sqlflows.SQLite3Task(name="x", query_template="select {{ .rawOutputDataPrefix }}",
                             task_config=sqlflows.SQLite3Config(uri=str(DB)))


def test_any_sqlalchemy_url_runs_when_sqlalchemy_is_installed(flyte_backend) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("sqlalchemy")
    above, broken = sqlflows.alchemy_tasks()
    frame = flyte.with_runcontext(mode="remote").run(above, lo=7).outputs()
    assert frame.open(pd.DataFrame).all_sync()["x"].tolist() == [7, 8, 9]
    run = flyte.with_runcontext(mode="remote").run(broken)
    with pytest.raises(ActionFailedError, match="no such column: nope"):
        run.outputs()
    from flyte_jupyter.plugins.sql import SQLAlchemyConfig, SQLAlchemyTask

    nodriver = SQLAlchemyTask(name="plugin_tests.alchemy_nodriver", query_template="select 1",
                              task_config=SQLAlchemyConfig(uri="nosuchdb://db/app"), retries=2)
    run = flyte.with_runcontext(mode="remote").run(nodriver)
    with pytest.raises(ActionFailedError, match="cannot use the SQLAlchemy URL of this task.*nosuchdb"):
        run.outputs()
    assert run.actions["a0"].attempts == 1  # the user's to fix: not retried


def test_a_query_cannot_reach_the_backend_s_own_files(flyte_backend, tmp_path) -> None:  # type: ignore[no-untyped-def]
    state = sqlflows.SQLite3Task(name="plugin_tests.steal", query_template="select * from actions",
                                 task_config=sqlflows.SQLite3Config(uri=str(flyte_backend.data_dir / "state.db")))
    with pytest.raises(BackendError, match="inside the backend's data directory"):
        flyte.with_runcontext(mode="remote").run(state)
    attach = sqlflows.SQLite3Task(
        name="plugin_tests.attach",
        query_template=f"attach database '{flyte_backend.data_dir / 'state.db'}' as s",
        task_config=sqlflows.SQLite3Config(uri=str(DB)))
    run = flyte.with_runcontext(mode="remote").run(attach)
    with pytest.raises(ActionFailedError, match="not authorized"):
        run.outputs()


@pytest.fixture(scope="module")
def pg_url(postgres_server) -> str:  # type: ignore[no-untyped-def]
    """A database on the session's real PostgreSQL server with the table t; its SQLAlchemy URL."""
    import psycopg

    url = postgres_server.new_database()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("create table t (x integer, name text, amount numeric(8, 2))")
        conn.execute("insert into t select i, 'n' || i, i * 1.25 from generate_series(0, 9) i")
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


@pytest.mark.postgres
def test_a_sqlalchemy_task_runs_against_a_real_postgresql(flyte_backend, pg_url) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("sqlalchemy")
    import psycopg

    above, by_name, broken, slow = sqlflows.postgres_tasks(pg_url)
    frame = flyte.with_runcontext(mode="remote").run(above, lo="7").outputs()
    rows = frame.open(pd.DataFrame).all_sync()
    assert rows["x"].tolist() == [7, 8, 9] and rows["name"].tolist() == ["n7", "n8", "n9"]
    assert [float(a) for a in rows["amount"]] == [8.75, 10.0, 11.25] and set(rows["tag"]) == {":kept"}

    hostile = "n1' or '1'='1'; drop table t; --"
    assert len(flyte.with_runcontext(mode="remote").run(by_name, who=hostile).outputs()) == 0
    assert flyte.with_runcontext(mode="remote").run(by_name, who="n4").outputs()["x"].tolist() == [4]
    with psycopg.connect(pg_url.replace("+psycopg", "")) as conn:  # the table is still there, whole
        assert conn.execute("select count(*) from t").fetchone()[0] == 10

    run = flyte.with_runcontext(mode="remote").run(broken)
    with pytest.raises(ActionFailedError, match='syntax error at or near "selec"'):
        run.outputs()
    assert run.actions["a0"].phase is flyte.Phase.FAILED and run.actions["a0"].attempts == 1

    # The timeout cancels the statement on the server, not only the action.
    run = flyte.with_runcontext(mode="remote").run(slow, s=60.0)
    with pytest.raises(ActionFailedError):
        run.outputs()
    assert run.actions["a0"].phase is flyte.Phase.TIMED_OUT
    with psycopg.connect(pg_url.replace("+psycopg", "")) as conn:
        sleeping = conn.execute("select count(*) from pg_stat_activity where query like 'select pg_sleep%'")
        assert sleeping.fetchone()[0] == 0
