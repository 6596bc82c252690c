"""SQL tasks: a query template rendered with typed inputs, run, and its rows kept as parquet.

Shared by the SDK (a SQL task run in local mode) and the backend's Sql plugin (which runs it with
no user-code process). A template names inputs as Flyte does, `{{ .inputs.lo }}`; every such
reference becomes a bind parameter and the value travels beside the statement, so an input is data
to the database and never SQL text (a hostile string cannot end the statement or add one).

A config is JSON (what the task spec's `custom` carries): `{"dialect": "sqlite", "uri": PATH}` or
`{"dialect": "sqlalchemy", "uri": URL, "connect_args": {...}}` plus the query template and the
declared input names.
"""

from __future__ import annotations

import datetime
import io
import os
import re
import threading
from typing import Any, Callable

from flyte_jupyter._internal.runtime import storage as _storage

_INPUT_REF = re.compile(r"\{\{\s*\.inputs\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_ANY_REF = re.compile(r"\{\{.*?\}\}", re.S)
# What a bind parameter can carry, in every DB-API driver.
SCALARS = (int, float, str, bool, bytes, datetime.datetime, datetime.date, type(None))
PART_NAME = "00000.parquet"  # the layout io.DataFrame reads (a folder with one part)


class SQLError(Exception):
    """The database refused or failed the query; the message is the database's own."""


def check_template(template: str, inputs: dict[str, Any]) -> None:
    """Refuse a template that names an undeclared input, or uses a template form other than
    `{{ .inputs.NAME }}`, before anything runs."""
    if not isinstance(template, str) or not template.strip():
        raise ValueError("query_template must be a non-empty SQL string")
    for match in _ANY_REF.finditer(template):
        ref = _INPUT_REF.fullmatch(match.group(0))
        if ref is None:
            raise ValueError(f"query_template has {match.group(0)!r}: only {{{{ .inputs.NAME }}}} references "
                             "are templated (each becomes a bind parameter)")
        if ref.group(1) not in inputs:
            raise ValueError(f"query_template uses input {ref.group(1)!r}, which is not declared; declared "
                             f"inputs: {sorted(inputs) or 'none'} (add it to inputs={{...}})")


def bind(template: str, values: dict[str, Any], paramstyle: str) -> tuple[str, Any]:
    """(statement, parameters) in the driver's DB-API `paramstyle` (`qmark` for sqlite3, the
    dialect's for SQLAlchemy): each `{{ .inputs.NAME }}` becomes a placeholder and the rest of the
    template reaches the driver as written (with `%` doubled for the `format` styles, which read it)."""
    if paramstyle not in _PLACEHOLDERS:
        raise SQLError(f"the database driver uses paramstyle {paramstyle!r}, which SQL tasks do not support; "
                       f"supported: {', '.join(_PLACEHOLDERS)}")
    params: list[Any] = []
    pieces: list[str] = []
    last = 0
    for match in _INPUT_REF.finditer(template):
        value = values[match.group(1)]
        if not isinstance(value, SCALARS):
            raise TypeError(f"input {match.group(1)!r} is a {type(value).__name__}; SQL inputs must be "
                            "int, float, str, bool, bytes, date, datetime or None")
        pieces.append(template[last:match.start()])
        pieces.append(_PLACEHOLDERS[paramstyle].format(n=len(params), n1=len(params) + 1))
        params.append(value)
        last = match.end()
    pieces.append(template[last:])
    if paramstyle in ("format", "pyformat"):  # these drivers read `%` in the statement itself
        pieces = [p if i % 2 else p.replace("%", "%%") for i, p in enumerate(pieces)]
    statement = "".join(pieces)
    if paramstyle in ("named", "pyformat"):
        return statement, {f"p{i}": v for i, v in enumerate(params)}
    return statement, tuple(params)


# DB-API paramstyles (PEP 249): how each places parameter n (0-based; n1 = n + 1).
_PLACEHOLDERS = {"qmark": "?", "numeric": ":{n1}", "numeric_dollar": "${n1}", "named": ":p{n}",
                 "format": "%s", "pyformat": "%(p{n})s"}


class QueryRun:
    """One query, runnable once and interruptible from another thread (abort, timeout)."""

    def __init__(self, config: dict[str, Any], values: dict[str, Any]) -> None:
        self.config = config
        self.values = values
        self._interrupt: Callable[[], None] | None = None
        self._stopped = threading.Event()

    @property
    def stopped(self) -> bool:
        return self._stopped.is_set()

    def stop(self) -> None:
        """Interrupt the running statement (sqlite3's interrupt; through SQLAlchemy the driver's cancel).
        It may wait on the network: call it off the event loop."""
        self._stopped.set()
        if self._interrupt is not None:
            try:
                self._interrupt()
            except Exception:  # noqa: BLE001 - already finished
                pass

    def run(self) -> tuple[list[str], list[tuple]]:
        """(column names, rows), or SQLError with the database's message."""
        dialect = self.config.get("dialect", "sqlite")
        template = self.config["query_template"]
        if dialect == "sqlite":
            return self._run_sqlite(template)
        if dialect == "sqlalchemy":
            return self._run_sqlalchemy(template)
        raise SQLError(f"unknown SQL dialect {dialect!r}; use 'sqlite' or 'sqlalchemy'")

    def _run_sqlite(self, template: str) -> tuple[list[str], list[tuple]]:
        import sqlite3

        statement, params = bind(template, self.values, "qmark")
        path = sqlite_path(self.config["uri"])
        try:
            conn = sqlite3.connect(path, timeout=30)
        except sqlite3.Error as exc:
            raise SQLError(f"cannot open the SQLite database {path}: {exc}") from None
        self._interrupt = conn.interrupt
        conn.set_authorizer(_no_attach)  # the query reaches its own database only
        try:
            if self._stopped.is_set():
                raise SQLError("interrupted")
            cur = conn.execute(statement, params)
            columns = [d[0] for d in cur.description or ()]
            rows = cur.fetchall()
            conn.commit()
            return columns, rows
        except (sqlite3.Error, sqlite3.Warning) as exc:
            raise SQLError(f"{type(exc).__name__}: {exc}") from None
        finally:
            self._interrupt = None
            conn.close()

    def _run_sqlalchemy(self, template: str) -> tuple[list[str], list[tuple]]:
        try:
            import sqlalchemy
        except ImportError:
            raise SQLError("this SQL task needs SQLAlchemy where it runs: pip install sqlalchemy") from None
        try:
            engine = sqlalchemy.create_engine(self.config["uri"], connect_args=self.config.get("connect_args") or {},
                                              poolclass=sqlalchemy.pool.NullPool)
        except (sqlalchemy.exc.ArgumentError, sqlalchemy.exc.NoSuchModuleError, ImportError) as exc:
            raise SQLError(f"cannot use the SQLAlchemy URL of this task: {exc} (install the driver where the "
                           "backend runs, e.g. psycopg for postgresql+psycopg://)") from None
        # The driver gets the statement as written (no text() parsing, which would take a `:name` in
        # a string literal or a `::int` cast for parameters), with placeholders in its own style.
        statement, params = bind(template, self.values, engine.dialect.paramstyle)
        try:
            with engine.connect() as conn:
                self._interrupt = _interrupter(conn)
                if self._stopped.is_set():
                    raise SQLError("interrupted")
                result = conn.exec_driver_sql(statement, params)
                if not result.returns_rows:
                    conn.commit()
                    return [], []
                columns = list(result.keys())
                rows = [tuple(r) for r in result.fetchall()]
                conn.commit()
                return columns, rows
        except sqlalchemy.exc.SQLAlchemyError as exc:
            raise SQLError(str(getattr(exc, "orig", None) or exc).strip()) from None
        finally:
            self._interrupt = None
            engine.dispose()


def _interrupter(conn: Any) -> Callable[[], None]:
    """What stops the statement running on `conn` from another thread: the driver's cancel
    (psycopg, psycopg2: a cancel request to the server) or interrupt (sqlite3); else closing it."""
    raw = conn.connection.dbapi_connection
    for name in ("cancel_safe", "cancel", "interrupt"):
        method = getattr(raw, name, None)
        if callable(method):
            return method
    return conn.close


def _no_attach(action: int, *_: object) -> int:
    import sqlite3

    return sqlite3.SQLITE_DENY if action in (sqlite3.SQLITE_ATTACH, sqlite3.SQLITE_DETACH) else sqlite3.SQLITE_OK


def sqlite_path(uri: str) -> str:
    """A local database file from a path or `file://` URI (a remote one is downloaded first)."""
    if _storage.is_local(uri):
        return _storage.local_path(uri)
    from flyte_jupyter._internal.runtime.scratch import scratch_dir

    local = os.path.join(scratch_dir("sql-"), "copy.db")
    _storage.download_file(uri, local)
    return local


def to_table(columns: list[str], rows: list[tuple]) -> Any:
    """The rows as a pyarrow Table (types inferred per column). A column whose values share no
    Arrow type (a JSON column holding numbers and strings) is kept as text rather than failing; two
    columns of one name (`select 1, 2` on PostgreSQL: both `?column?`) are refused, not merged."""
    import pyarrow as pa

    seen: set[str] = set()
    for name in columns:
        if name in seen:
            raise SQLError(f"the query returns more than one column named {name!r}; give each column a "
                           "name of its own (select ... as NAME)")
        seen.add(name)
    arrays = [_column([row[i] for row in rows]) for i in range(len(columns))]
    return pa.table(arrays, names=columns) if columns else pa.table({})


def _column(values: list[Any]) -> Any:
    import json

    import pyarrow as pa

    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.array([None if v is None else json.dumps(v, default=str) if isinstance(v, (dict, list))
                         else str(v) for v in values], type=pa.string())


def store_table(table: Any, prefix: str) -> str:
    """Write `table` as `PREFIX/00000.parquet`; return the folder's URI (what io.DataFrame reads)."""
    import pyarrow.parquet as pq

    buf = io.BytesIO()
    pq.write_table(table, buf)
    _storage.put_bytes(_storage.join(prefix, PART_NAME), buf.getvalue())
    return prefix


def scalar_inputs(data: bytes) -> dict[str, Any]:
    """The inputs of a SQL task from inputs.pb, as plain values (SQL parameters are scalars)."""
    from flyte_jupyter._internal.wire.proto import literals_pb2

    lm = literals_pb2.LiteralMap.FromString(data)
    out: dict[str, Any] = {}
    for name, lit in lm.literals.items():
        if name.startswith("_flyte_"):  # reserved (the custom context)
            continue
        out[name] = _scalar(name, lit)
    return out


_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


def _scalar(name: str, lit: Any) -> Any:
    kind = lit.WhichOneof("value")
    if kind in ("int", "float", "str", "bool", "bytes"):
        return getattr(lit, kind)
    if kind == "none":
        return None
    if kind == "big_int":
        return int(lit.big_int)
    if kind == "date":
        return datetime.date(1970, 1, 1) + datetime.timedelta(days=lit.date)
    if kind == "datetime":
        moment = _EPOCH + datetime.timedelta(microseconds=lit.datetime.micros)
        if lit.datetime.naive:
            return moment.replace(tzinfo=None)
        return moment.astimezone(datetime.timezone(datetime.timedelta(seconds=lit.datetime.utc_offset)))
    if kind == "union":
        return _scalar(name, lit.union.value) if lit.union.HasField("value") else None
    raise SQLError(f"input {name!r} is a {kind} value; SQL inputs must be int, float, str, bool, bytes, "
                   "date, datetime or None")


def dataframe_outputs(uri: str, columns: list[tuple[str, str]]) -> bytes:
    """outputs.pb holding one io.DataFrame (a parquet folder) under "o0"."""
    from flyte_jupyter._internal.wire.proto import literals_pb2

    lm = literals_pb2.LiteralMap()
    ref = lm.literals["o0"].dataframe
    ref.uri = uri
    ref.format = "parquet"
    for name, type_text in columns:
        ref.columns.add(name=name, type=type_text)
    return lm.SerializeToString(deterministic=True)
