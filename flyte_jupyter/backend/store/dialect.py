"""What differs between the SQL databases the stores speak: parameter style, column types, the
"no limit" value and the column that orders rows by insertion. Everything else (upserts with
`ON CONFLICT`, partial indices, savepoints) is SQL both SQLite (3.24+) and PostgreSQL accept, so
each query and each schema step is written once.
"""

from __future__ import annotations

import dataclasses
from typing import Any


@dataclasses.dataclass(frozen=True)
class Dialect:
    name: str
    types: dict[str, str]  # {blob}, {real}, {int}, {ord_column} in schema steps
    insertion_order: str  # a column that grows with every insert (tie-breaks equal timestamps)
    no_limit: Any  # the LIMIT parameter that means "all rows"
    error: tuple[type[Exception], ...]  # what a failed statement raises
    now: str  # the database's clock in seconds since the epoch (leases use it, never a replica's)
    paramstyle_qmark: bool = True

    def sql(self, query: str) -> str:
        """A query written with `?` placeholders in this dialect (no query has a literal `?`)."""
        return query if self.paramstyle_qmark else query.replace("?", "%s")

    def ddl(self, statement: str) -> str:
        return statement.format(**self.types)


def sqlite_dialect() -> Dialect:
    import sqlite3

    return Dialect(name="sqlite", types={"blob": "BLOB", "real": "REAL", "int": "INTEGER", "ord_column": ""},
                   insertion_order="rowid", no_limit=-1, error=(sqlite3.Error,),
                   now="((julianday('now') - 2440587.5) * 86400.0)")


def postgres_dialect() -> Dialect:
    import psycopg

    return Dialect(name="postgresql",
                   types={"blob": "BYTEA", "real": "DOUBLE PRECISION", "int": "BIGINT",
                          "ord_column": "ord BIGSERIAL,"},
                   insertion_order="ord", no_limit=None, error=(psycopg.Error,), paramstyle_qmark=False,
                   now="extract(epoch from clock_timestamp())::double precision")
