"""Which store a backend uses: `store: {url: ...}` in its config, SQLite in the data dir by default."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from flyte_jupyter.backend.store.sql import SqlStore

SCHEMES = ("sqlite", "postgresql", "postgres")


def check_store_url(url: str) -> None:
    """Refuse a URL no store can open, before anything starts."""
    scheme = urlsplit(url).scheme
    if scheme not in SCHEMES:
        raise ValueError(f"store url {url.split('@')[-1]!r}: unknown scheme {scheme!r}; use "
                         "postgresql://user@host:5432/dbname or sqlite:///path/to/state.db")
    if scheme != "sqlite":
        try:
            import psycopg  # noqa: F401
        except ImportError:
            raise ValueError("a postgresql:// store needs psycopg: pip install 'flyte-jupyter[postgres]'") from None
    elif not urlsplit(url).path:
        raise ValueError(f"store url {url!r} names no file: use sqlite:///path/to/state.db")


def make_store(url: str, default_sqlite: Path) -> SqlStore:
    """The store at `url` ("" = SQLite at `default_sqlite`)."""
    if not url:
        from flyte_jupyter.backend.store.sqlite import SqliteStore

        return SqliteStore(default_sqlite)
    check_store_url(url)
    scheme = urlsplit(url).scheme
    if scheme == "sqlite":
        from flyte_jupyter.backend.store.sqlite import SqliteStore

        return SqliteStore(Path(urlsplit(url).path))
    from flyte_jupyter.backend.store.postgres import PostgresStore

    return PostgresStore(url)
