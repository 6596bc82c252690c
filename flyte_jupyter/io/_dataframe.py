"""io.DataFrame: a table passed between tasks as a reference to parquet in storage (Flyte 2's
`flyte.io.DataFrame`).

Wrap a frame to return it (`DataFrame.wrap_df(df)`, or the older name `from_df`), point at one
already stored (`DataFrame.from_existing_remote(uri, format="parquet")`), or store it at once
(`await DataFrame.from_local(df)`). A task that takes a DataFrame reads it when it asks, as the
frame type it wants: `await df.open(pd.DataFrame).all()` (or `all_sync()`), or in pieces with
`async for part in await df.open(pa.Table).iter()`. pandas, pyarrow and polars frames are known.

Tasks may also declare the frame types themselves (`-> pd.DataFrame`, `t: pa.Table`): the frame
is stored on the way out and read back on the way in. `Annotated[DataFrame, {"a": int}]` (or a
frame type so annotated) declares columns: a reader gets only those; a string in the annotation is
the format; a `HashFunction` computes the frame's cache key.
"""

from __future__ import annotations

from typing import Any, AsyncIterator, Sequence

from flyte_jupyter.io import _frames
from flyte_jupyter.io._hashing import hash_value, split_hash_arg
from flyte_jupyter.io._ref import _to_thread

PARQUET = _frames.PARQUET
CSV = _frames.CSV
GENERIC_FORMAT = ""


class DataFrame:
    """A table: a frame in memory (`val`), a stored one (`uri`, `format`), or both.

    `hash` is the cache key for the content, when one was given or computed; a DataFrame with a
    hash enters cache keys and child action names by it instead of by its location.
    """

    _flyte_dataframe = True  # what the type system looks for (it never imports this module first)

    def __init__(self, uri: str | None = None, format: str | None = GENERIC_FORMAT, hash: str | None = None):
        self.uri = uri
        self.format = format or GENERIC_FORMAT
        self.hash = hash
        self._val: Any = None
        self._stored = uri is not None  # `uri` holds the data (not only a place to write it to)
        self._open_type: Any = None
        self._columns: tuple[tuple[str, str], ...] = ()  # (name, type as text): what a reader gets
        self._hash_method: Any = None

    # ---- constructors --------------------------------------------------------------------

    @classmethod
    def wrap_df(cls, val: Any = None, uri: str | None = None) -> DataFrame:
        """Wrap an in-memory frame (pandas, pyarrow, polars) to pass it on; it is stored when it
        leaves the task (at `uri` if given, else in the run's raw data)."""
        if val is not None and _frames.kind_of(val) is None:
            raise TypeError(
                f"DataFrame.wrap_df takes a pandas DataFrame, a pyarrow Table or a polars DataFrame, "
                f"got {type(val).__qualname__}"
            )
        df = cls(uri=uri)
        df._val = val
        df._stored = val is None and uri is not None
        return df

    @classmethod
    def from_df(cls, val: Any = None, uri: str | None = None) -> DataFrame:
        """The older name of `wrap_df`."""
        return cls.wrap_df(val, uri=uri)

    @classmethod
    def from_existing_remote(cls, remote_path: str, format: str | None = None, **kwargs: Any) -> DataFrame:
        """A reference to a table already in storage: a folder of parquet files or one file
        (`format="csv"` for CSV). Nothing is read or copied. `hash=` sets its cache key."""
        return cls(uri=remote_path, format=format or GENERIC_FORMAT, hash=kwargs.get("hash"))

    @classmethod
    def from_local_sync(
        cls,
        df: Any,
        columns: Any = None,
        remote_destination: str | None = None,
        hash_method: Any = None,
    ) -> DataFrame:
        """Store a frame now and return the reference (blocking). `hash_method`: a string is the
        cache key, a `HashFunction` computes it from the frame."""
        key, method = split_hash_arg(hash_method)
        if method is not None:
            key = hash_value(method, df)
        from flyte_jupyter._internal.runtime import storage as _storage

        out = cls.wrap_df(df, uri=remote_destination)
        out.uri = _frames.store(df, prefix=_storage.raw_data_path(), uri=remote_destination)
        out.format = PARQUET
        out._stored = True
        out.hash = key
        if columns:
            out._columns = column_spec(columns)
        return out

    @classmethod
    async def from_local(
        cls,
        df: Any,
        columns: Any = None,
        remote_destination: str | None = None,
        hash_method: Any = None,
    ) -> DataFrame:
        """Store a frame now and return the reference (async; the write runs on a thread)."""
        return await _to_thread(cls.from_local_sync, df, columns, remote_destination, hash_method)

    # ---- what it holds -------------------------------------------------------------------

    @property
    def val(self) -> Any:
        """The in-memory frame, when this DataFrame wraps one (None for a stored reference)."""
        return self._val

    @classmethod
    def columns(cls) -> dict[str, type]:
        """Flyte's class-level column declaration: always empty (declare columns with Annotated)."""
        return {}

    @classmethod
    def column_names(cls) -> list[str]:
        return []

    @property
    def declared_columns(self) -> list[str]:
        """The columns a reader gets ([] for all of them)."""
        return [name for name, _ in self._columns]

    # ---- reading -------------------------------------------------------------------------

    def open(self, dataframe_type: Any) -> DataFrame:
        """Choose the frame type to read as (`pd.DataFrame`, `pa.Table`, `pl.DataFrame`); then
        `await .all()` or `await .iter()`. Returns this DataFrame."""
        _frames._reader_kind(dataframe_type)  # an unknown type fails here, not at all()
        self._open_type = dataframe_type
        return self

    def _need_type(self) -> Any:
        if self._open_type is None:
            raise ValueError("no data frame type chosen: call open(pd.DataFrame) (or another frame type) first")
        return self._open_type

    def all_sync(self) -> Any:
        """The whole table as the type chosen with `open` (blocking)."""
        as_type = self._need_type()
        cols = self.declared_columns or None
        if self._val is not None:
            return _frames.convert(self._val, as_type, cols)
        if not self.uri:
            raise ValueError("this DataFrame has neither a frame nor a uri to read")
        return _frames.read(self.uri, self.format, as_type, cols)

    async def all(self) -> Any:
        """The whole table as the type chosen with `open` (the read runs on a thread)."""
        self._need_type()
        if self._val is not None:
            return self.all_sync()
        return await _to_thread(self.all_sync)

    async def iter(self) -> AsyncIterator[Any]:
        """An async iterator over the table in pieces (parquet row groups) as the chosen type:
        `async for part in await df.open(pd.DataFrame).iter(): ...`."""
        as_type = self._need_type()
        cols = self.declared_columns or None
        if self._val is not None:
            return _aiter([_frames.convert(self._val, as_type, cols)])
        if not self.uri:
            raise ValueError("this DataFrame has neither a frame nor a uri to read")
        uri, fmt = self.uri, self.format
        pieces = await _to_thread(lambda: list(_frames.iterate(uri, fmt, as_type, cols)))
        return _aiter(pieces)

    # ---- value semantics -----------------------------------------------------------------

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, DataFrame):
            return NotImplemented
        if self._val is not None or other._val is not None:
            return self is other
        return (self.uri, self.format, self.hash, self._columns) == (other.uri, other.format, other.hash, other._columns)

    def __hash__(self) -> int:
        return hash(("DataFrame", self.uri)) if self._val is None else id(self)

    def __repr__(self) -> str:
        parts = []
        if self._val is not None:
            parts.append(f"val=<{_frames.describe(self._val)}>")
        if self.uri:
            parts.append(f"uri={self.uri!r}")
        if self.format:
            parts.append(f"format={self.format!r}")
        if self._columns:
            parts.append(f"columns={self.declared_columns!r}")
        return f"DataFrame({', '.join(parts)})"


async def _aiter(items: Sequence[Any]) -> AsyncIterator[Any]:
    for item in items:
        yield item


def column_spec(columns: Any) -> tuple[tuple[str, str], ...]:
    """Columns as (name, type as text) from a dict {name: type}, a class with annotations
    (dataclass, TypedDict) or a list of names."""
    if columns is None:
        return ()
    if isinstance(columns, dict):
        items = list(columns.items())
    elif isinstance(columns, type) and hasattr(columns, "__annotations__"):
        items = list(columns.__annotations__.items())
    elif isinstance(columns, (list, tuple)):
        items = [(c, "") if isinstance(c, str) else tuple(c) for c in columns]
    else:
        raise TypeError(f"columns are a dict of name to type, got {type(columns).__qualname__}")
    return tuple((str(n), _type_text(t)) for n, t in items)


def _type_text(t: Any) -> str:
    if isinstance(t, str):
        return t
    if isinstance(t, type):
        return t.__qualname__
    return repr(t).replace("typing.", "")
