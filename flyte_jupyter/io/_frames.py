"""The data frame libraries flyte_jupyter knows: pandas, pyarrow and polars, as parquet in storage.

Nothing is imported until a frame is written or read: a frame object (or a type annotation naming
one) implies its library is already imported, and reading imports only the library asked for.
pandas frames need pyarrow to be written or read (as `DataFrame.to_parquet` does); polars frames
use polars' own parquet reader and writer.

A stored frame is a folder holding one parquet file, `00000.parquet` (the layout Flyte uses too,
one file per part); a reader also takes a folder of several parts, or a single file (parquet, or
CSV when the format says "csv"). Files in the folder whose names start with "_" or "." are
skipped (`_SUCCESS` markers and the like).
"""

from __future__ import annotations

import io
import sys
from typing import Any, Iterator, Sequence

from flyte_jupyter._internal.runtime import storage as _storage

PARQUET = "parquet"
CSV = "csv"
PART_NAME = "00000.parquet"

# kind -> (module, attribute) of the frame class
_KINDS: dict[str, tuple[str, str]] = {
    "pandas": ("pandas", "DataFrame"),
    "arrow": ("pyarrow", "Table"),
    "polars": ("polars", "DataFrame"),
}
_ROOTS = frozenset(module for module, _ in _KINDS.values())


def kind_of_type(tp: Any) -> str | None:
    """"pandas", "arrow" or "polars" for a frame class (or a subclass), else None."""
    if not isinstance(tp, type):
        return None
    roots = {c.__module__.partition(".")[0] for c in getattr(tp, "__mro__", ())}
    if not roots & _ROOTS:
        return None
    for kind, (module, attr) in _KINDS.items():
        mod = sys.modules.get(module)
        cls = getattr(mod, attr, None) if mod is not None else None
        if isinstance(cls, type) and issubclass(tp, cls):
            return kind
    return None


def kind_of(value: Any) -> str | None:
    """The kind of a frame object, else None."""
    return kind_of_type(type(value))


def frame_class(kind: str) -> type:
    module, attr = _KINDS[kind]
    return getattr(_require(module, kind), attr)


def _require(module: str, kind: str) -> Any:
    try:
        return __import__(module)
    except ImportError:
        raise ImportError(
            f"reading or writing a {kind} data frame needs the `{module}` package: pip install {module}"
            + (" pyarrow" if module == "pandas" else "")
        ) from None


def _pyarrow(why: str) -> Any:
    try:
        import pyarrow
        import pyarrow.parquet  # noqa: F401 - the submodule the callers use
    except ImportError:
        raise ImportError(f"{why} needs pyarrow: pip install pyarrow") from None
    return pyarrow


# ---------------------------------------------------------------------------------------------
# writing


def parquet_bytes(df: Any) -> bytes:
    """One frame as parquet file bytes (deterministic for equal frames and library versions)."""
    kind = kind_of(df)
    buf = io.BytesIO()
    if kind == "pandas":
        _pyarrow("writing a pandas DataFrame as parquet")
        df.to_parquet(buf, engine="pyarrow")
    elif kind == "arrow":
        pa = _pyarrow("writing a pyarrow Table")
        pa.parquet.write_table(df, buf)
    elif kind == "polars":
        df.write_parquet(buf)
    else:
        raise TypeError(
            f"cannot store a {type(df).__qualname__} as a data frame: flyte_jupyter stores pandas "
            "DataFrames, pyarrow Tables and polars DataFrames"
        )
    return buf.getvalue()


def store(df: Any, *, prefix: str, uri: str | None = None) -> str:
    """Write `df` and return the folder's URI: `uri` when given, else a content-addressed folder
    under `prefix` (equal frames land in the same place, once, so their references are equal
    inputs for cache keys and child action names)."""
    data = parquet_bytes(df)
    if uri is None:
        import hashlib

        digest = hashlib.sha256(data).hexdigest()[:40]
        uri = _storage.join(prefix, "dataframes", digest)
        part = _storage.join(uri, PART_NAME)
        if _storage.exists(part):
            return uri
    else:
        part = _storage.join(uri, PART_NAME)
    _storage.put_bytes(part, data)
    return uri


# ---------------------------------------------------------------------------------------------
# reading


def _parts(uri: str) -> list[str]:
    if _storage.is_dir(uri):
        parts = [
            f for f in _storage.list_files(uri, recursive=True)
            if not _storage.basename(f).startswith(("_", "."))
        ]
        if not parts:
            raise FileNotFoundError(f"the data frame folder {uri} holds no data files")
        return parts
    if not _storage.exists(uri):
        raise FileNotFoundError(f"no data frame at {uri}")
    return [uri]


def _is_csv(part: str, fmt: str) -> bool:
    return fmt.lower() == CSV or (not fmt and part.lower().endswith(".csv"))


def _source(part: str) -> Any:
    """A local path as is (the readers map it), else the object's bytes."""
    if _storage.is_local(part):
        return _storage.local_path(part)
    return io.BytesIO(_storage.get_bytes(part))


def read(uri: str, fmt: str, as_type: Any, columns: Sequence[str] | None = None) -> Any:
    """The whole stored frame as `as_type` (pandas.DataFrame, pyarrow.Table, polars.DataFrame),
    only `columns` when given."""
    kind = _reader_kind(as_type)
    if kind == "polars":
        return _read_polars(_parts(uri), fmt, columns)
    table = _read_arrow(_parts(uri), fmt, columns)
    return table.to_pandas() if kind == "pandas" else table


def iterate(uri: str, fmt: str, as_type: Any, columns: Sequence[str] | None = None) -> Iterator[Any]:
    """The stored frame in pieces (one per parquet row group, or per CSV file), as `as_type`."""
    kind = _reader_kind(as_type)
    for part in _parts(uri):
        if kind == "polars" or _is_csv(part, fmt):
            yield read(part, fmt, as_type, columns)
            continue
        pa = _pyarrow("reading parquet")
        pf = pa.parquet.ParquetFile(_source(part))
        for i in range(pf.num_row_groups):
            table = pf.read_row_group(i, columns=list(columns) if columns else None)
            yield table.to_pandas() if kind == "pandas" else table


def _reader_kind(as_type: Any) -> str:
    kind = kind_of_type(as_type)
    if kind is None:
        name = getattr(as_type, "__qualname__", repr(as_type))
        raise TypeError(
            f"cannot open a data frame as {name}: flyte_jupyter reads pandas.DataFrame, pyarrow.Table "
            "and polars.DataFrame"
        )
    return kind


def _read_arrow(parts: list[str], fmt: str, columns: Sequence[str] | None) -> Any:
    pa = _pyarrow("reading a data frame")
    cols = list(columns) if columns else None
    tables = []
    for part in parts:
        if _is_csv(part, fmt):
            import pyarrow.csv as pcsv

            table = pcsv.read_csv(_source(part))
            tables.append(table.select(cols) if cols else table)
        else:
            tables.append(pa.parquet.read_table(_source(part), columns=cols))
    if len(tables) == 1:
        return tables[0]
    return pa.concat_tables(tables, promote_options="default")


def _read_polars(parts: list[str], fmt: str, columns: Sequence[str] | None) -> Any:
    pl = _require("polars", "polars")
    cols = list(columns) if columns else None
    frames = []
    for part in parts:
        if _is_csv(part, fmt):
            frames.append(pl.read_csv(_source(part), columns=cols))
        else:
            frames.append(pl.read_parquet(_source(part), columns=cols))
    return frames[0] if len(frames) == 1 else pl.concat(frames, how="diagonal_relaxed")


# ---------------------------------------------------------------------------------------------
# in memory


def convert(df: Any, as_type: Any, columns: Sequence[str] | None = None) -> Any:
    """An in-memory frame as another library's frame (the same object when nothing changes)."""
    to = _reader_kind(as_type)
    src = kind_of(df)
    if src is None:
        raise TypeError(f"{type(df).__qualname__} is not a data frame flyte_jupyter knows")
    cols = list(columns) if columns else None
    if src == to:
        return _select(df, src, cols) if cols else df
    if src == "pandas":
        if to == "arrow":
            pa = _pyarrow("converting a pandas DataFrame")
            out: Any = pa.Table.from_pandas(df)
        else:
            out = _require("polars", "polars").from_pandas(df)
    elif src == "arrow":
        out = df.to_pandas() if to == "pandas" else _require("polars", "polars").from_arrow(df)
    else:  # polars
        out = df.to_pandas() if to == "pandas" else df.to_arrow()
    return _select(out, to, cols) if cols else out


def _select(df: Any, kind: str, cols: list[str]) -> Any:
    if kind == "pandas":
        return df[cols]
    return df.select(cols)


def describe(df: Any) -> str:
    """A short text for reprs: kind and shape."""
    kind = kind_of(df)
    try:
        if kind == "pandas" or kind == "polars":
            rows, ncols = df.shape
        elif kind == "arrow":
            rows, ncols = df.num_rows, df.num_columns
        else:
            return type(df).__qualname__
    except Exception:
        return type(df).__qualname__
    return f"{type(df).__qualname__} {rows}x{ncols}"
