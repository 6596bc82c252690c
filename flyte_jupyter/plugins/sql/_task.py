"""SQLTask and its two flavours: SQLite (built in) and any SQLAlchemy URL."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import inspect
import json
import os
import re
from typing import Any

from flyte_jupyter._environment import TaskEnvironment
from flyte_jupyter._internal.runtime import sql as _sql
from flyte_jupyter._internal.runtime import storage as _storage
from flyte_jupyter._task import TaskTemplate

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]{0,254}")
# SQL tasks share one environment: they run no code of their own, so it only gives the defaults.
_ENV = TaskEnvironment(name="sql")


@dataclasses.dataclass(frozen=True)
class SQLite3Config:
    """A SQLite database file: a local path, or a storage URI (downloaded before the query)."""

    uri: str
    compressed: bool = False


@dataclasses.dataclass(frozen=True)
class SQLAlchemyConfig:
    """Any database SQLAlchemy reaches (`postgresql+psycopg://...`, `mysql+pymysql://...`); SQLAlchemy and
    the driver must be installed where the backend runs."""

    uri: str
    connect_args: dict[str, Any] | None = None


class SQLTask(TaskTemplate):
    """A task whose body is a query; `task_type` "sql", its config in the spec's custom JSON."""

    task_type = "sql"
    _dialect = ""

    def __init__(self, name: str, query_template: str, task_config: Any, inputs: dict[str, type] | None = None,
                 output_schema_type: Any = None, **options: Any) -> None:
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise ValueError(f"SQL task name {name!r} is invalid: use letters, digits, '_', '.' and '-' (max 255)")
        inputs = dict(inputs or {})
        _sql.check_template(query_template, inputs)
        for key, tp in inputs.items():
            if tp not in _sql.SCALARS:
                raise TypeError(f"SQL task {name}: input {key!r} is declared {tp!r}; SQL inputs are bind "
                                "parameters: int, float, str, bool, bytes, date, datetime")
        if output_schema_type is None:
            from flyte_jupyter.io import DataFrame

            output_schema_type = DataFrame
        self.query_template = query_template
        self.task_config = self._checked_config(task_config)
        self.output_schema_type = output_schema_type
        func = _query_function(self, name, inputs, output_schema_type)
        super().__init__(func, _ENV, **options)
        self.name = name
        _ENV._tasks[name] = self

    def _checked_config(self, config: Any) -> Any:
        return config

    def sql_config(self) -> dict[str, Any]:
        """What the Sql plugin reads: the dialect, the database, the template, the input names."""
        return {"dialect": self._dialect, "query_template": self.query_template,
                "inputs": sorted(self.interface.inputs)}

    def custom_config(self, sctx: Any) -> dict[str, Any]:
        return self.sql_config()

    @functools.cached_property
    def _source_hash(self) -> str:  # the cache follows the query and the database, not a function body
        return hashlib.sha256(json.dumps(self.sql_config(), sort_keys=True).encode()).hexdigest()

    def run_query(self, **inputs: Any) -> Any:
        """Run the query here (local mode, or calling the task outside a run) and return its rows
        as the declared output type."""
        columns, rows = _sql.QueryRun(self.sql_config(), inputs).run()
        table = _sql.to_table(columns, rows)
        out = self.output_schema_type
        if getattr(out, "_flyte_dataframe", False):
            return out.wrap_df(table)
        module = getattr(out, "__module__", "") or ""
        if module.startswith("pandas"):
            return table.to_pandas()
        if module.startswith("polars"):
            import polars as pl

            return pl.from_arrow(table)
        return table


def _query_function(task: SQLTask, name: str, inputs: dict[str, type], output: Any) -> Any:
    """A function with the task's typed signature whose body runs the query (what TaskTemplate
    reads its interface from, and what local mode calls)."""

    def query(**values: Any) -> Any:
        return task.run_query(**values)

    params = [inspect.Parameter(k, inspect.Parameter.KEYWORD_ONLY, annotation=t) for k, t in inputs.items()]
    query.__signature__ = inspect.Signature(params, return_annotation=output)  # type: ignore[attr-defined]
    query.__annotations__ = {**inputs, "return": output}
    query.__name__ = query.__qualname__ = name.replace(".", "_").replace("-", "_")
    return query


class SQLite3Task(SQLTask):
    """flytekit's SQLite3Task: `SQLite3Task(name, query_template, inputs={...},
    task_config=SQLite3Config(uri=...), output_schema_type=...)`."""

    _dialect = "sqlite"

    def _checked_config(self, config: Any) -> SQLite3Config:
        if not isinstance(config, SQLite3Config):
            raise TypeError(f"SQLite3Task takes task_config=SQLite3Config(uri=...), not {type(config).__name__}")
        if config.compressed:
            raise ValueError("SQLite3Config(compressed=True) is not supported here yet: point uri at an "
                             "uncompressed database file")
        if _storage.is_plain_path(config.uri):  # the backend runs elsewhere: pin a relative path now
            config = dataclasses.replace(config, uri=os.path.abspath(config.uri))
        return config

    def sql_config(self) -> dict[str, Any]:
        return {**super().sql_config(), "uri": self.task_config.uri}


class SQLAlchemyTask(SQLTask):
    """flytekit's SQLAlchemyTask: any SQLAlchemy URL, `task_config=SQLAlchemyConfig(uri=...)`."""

    _dialect = "sqlalchemy"

    def _checked_config(self, config: Any) -> SQLAlchemyConfig:
        if not isinstance(config, SQLAlchemyConfig):
            raise TypeError(f"SQLAlchemyTask takes task_config=SQLAlchemyConfig(uri=...), not {type(config).__name__}")
        return config

    def sql_config(self) -> dict[str, Any]:
        return {**super().sql_config(), "uri": self.task_config.uri,
                "connect_args": dict(self.task_config.connect_args or {})}
