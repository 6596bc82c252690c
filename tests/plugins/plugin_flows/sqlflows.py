"""SQL tasks on a database whose path the test sets in PLUGIN_TEST_DB before importing this."""

import os

import pandas as pd

import flyte_jupyter as flyte
from flyte_jupyter.plugins.sql import SQLite3Config, SQLite3Task

DB = os.environ.get("PLUGIN_TEST_DB", "/nonexistent/plugin-test.db")

count = SQLite3Task(name="plugin_tests.count", query_template="select count(*) as n from t where x > {{ .inputs.lo }}",
                    inputs={"lo": int}, task_config=SQLite3Config(uri=DB))

by_name = SQLite3Task(name="plugin_tests.by_name", query_template="select x, name from t where name = {{ .inputs.who }}",
                      inputs={"who": str}, task_config=SQLite3Config(uri=DB), output_schema_type=pd.DataFrame)

broken = SQLite3Task(name="plugin_tests.broken", query_template="selec x frm t where x > {{ .inputs.lo }}",
                     inputs={"lo": int}, task_config=SQLite3Config(uri=DB), retries=2)

# A query that runs for a long time (a recursive count to a billion), to be timed out.
slow = SQLite3Task(name="plugin_tests.slow",
                   query_template="with recursive c(i) as (select 1 union all select i + 1 from c where i < {{ .inputs.n }}) "
                                  "select count(*) as n from c",
                   inputs={"n": int}, task_config=SQLite3Config(uri=DB), timeout=1)

env = flyte.TaskEnvironment(name="plugin_sql_parent")


@env.task
async def total_above(lo: int) -> int:
    """A python parent calling a sql child: the child is an action of type sql."""
    frame = await count.aio(lo=lo)
    return int((await frame.open(pd.DataFrame).all())["n"][0])


def alchemy_tasks():  # type: ignore[no-untyped-def]
    """SQLAlchemyTask needs SQLAlchemy only where the query runs (the backend); made on demand."""
    from flyte_jupyter.plugins.sql import SQLAlchemyConfig, SQLAlchemyTask

    url = f"sqlite:///{DB}"
    above = SQLAlchemyTask(name="plugin_tests.alchemy_above", query_template="select x from t where x >= {{ .inputs.lo }} "
                           "order by x", inputs={"lo": int}, task_config=SQLAlchemyConfig(uri=url))
    broken = SQLAlchemyTask(name="plugin_tests.alchemy_broken", query_template="select nope from t",
                            task_config=SQLAlchemyConfig(uri=url))
    return above, broken


def postgres_tasks(url: str):  # type: ignore[no-untyped-def]
    """SQLAlchemyTasks on a PostgreSQL database (its URL known only once the test server runs).
    The first uses what a driver-level statement must keep as written: a `::int` cast right after
    an input, a `%` in a LIKE pattern and a `:word` inside a string literal."""
    from flyte_jupyter.plugins.sql import SQLAlchemyConfig, SQLAlchemyTask

    config = SQLAlchemyConfig(uri=url)
    above = SQLAlchemyTask(name="plugin_tests.pg_above",
                           query_template="select x, name, amount, ':kept' as tag from t "
                                          "where x >= {{ .inputs.lo }}::int and name like 'n%' order by x",
                           inputs={"lo": str}, task_config=config)
    by_name = SQLAlchemyTask(name="plugin_tests.pg_by_name",
                             query_template="select x from t where name = {{ .inputs.who }}",
                             inputs={"who": str}, task_config=config, output_schema_type=pd.DataFrame)
    broken = SQLAlchemyTask(name="plugin_tests.pg_broken", query_template="selec x frm t",
                            task_config=config, retries=2)
    slow = SQLAlchemyTask(name="plugin_tests.pg_slow", query_template="select pg_sleep({{ .inputs.s }}) as z",
                          inputs={"s": float}, task_config=config, timeout=1)
    return above, by_name, broken, slow
