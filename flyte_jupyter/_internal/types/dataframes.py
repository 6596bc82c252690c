"""The data frame converters: `io.DataFrame`, and pandas / pyarrow / polars frames declared as such.

Either way a frame travels as a `DataFrameRef` literal: the URI of parquet in storage, its format,
the columns the sending task declared, and a hash when there is one. A frame that is only in memory
is written on encoding: to a content-addressed folder under the offloader's prefix (remote: the
action's raw data) or, without one (local runs), under the raw data path, so equal frames give
equal references. A declared frame type (`t: pd.DataFrame`) is read back on decoding; an
`io.DataFrame` is decoded as a reference and read when the task asks (`open(...).all()`).

`Annotated[X, ...]` (X a DataFrame or a frame type) may add: columns (a dict or a class with
annotations), a format string, a HashFunction (the frame's cache key). Declared columns limit what
the reader gets; a reader declaring none gets the columns the sender declared, as in Flyte.
"""

from __future__ import annotations

import os
import weakref
from typing import Any

from flyte_jupyter._internal.types.core import _L, _Conv, note_coercion
from flyte_jupyter._internal.types.errors import _Mismatch
from flyte_jupyter._internal.types.fallback import _wrong_kind
from flyte_jupyter._internal.wire.proto import literals_pb2 as pb

# The hash a decoded frame came with, by object id, so a task that passes the frame on keeps it
# (Flyte does the same); weak, so frames are not kept alive by it.
_HASHES: dict[int, tuple[Any, str]] = {}


def is_frame_type(tp: Any) -> bool:
    """io.DataFrame, or a pandas / pyarrow / polars frame class."""
    if getattr(tp, "_flyte_dataframe", False):
        return True
    from flyte_jupyter.io import _frames

    return _frames.kind_of_type(tp) is not None


def _parse_annotations(meta: tuple[Any, ...]) -> tuple[tuple[tuple[str, str], ...], str, Any]:
    from flyte_jupyter.io._dataframe import column_spec
    from flyte_jupyter.io._hashing import is_hash_method

    columns: tuple[tuple[str, str], ...] = ()
    fmt = ""
    method = None
    for m in meta:
        if is_hash_method(m):
            method = m
        elif isinstance(m, str):
            fmt = m
        elif isinstance(m, dict) or (isinstance(m, type) and hasattr(m, "__annotations__")):
            columns = column_spec(m)
        elif type(m).__name__ == "Schema" and hasattr(m, "names"):  # a pyarrow schema
            columns = tuple((str(n), str(t)) for n, t in zip(m.names, m.types))
    return columns, fmt, method


def _prefix(off: Any) -> str:
    if off is not None:
        return str(off.prefix_uri)
    from flyte_jupyter._internal.runtime import storage as _storage

    return _storage.raw_data_path()


def _remember_hash(frame: Any, key: str) -> None:
    try:
        _HASHES[id(frame)] = (weakref.ref(frame), key)
    except TypeError:  # not weakly referenceable: the hash is simply not carried on
        return
    if len(_HASHES) > 4096:
        for k, (ref, _) in list(_HASHES.items()):
            if ref() is None:
                del _HASHES[k]


def _known_hash(frame: Any) -> str | None:
    entry = _HASHES.get(id(frame))
    if entry is None:
        return None
    ref, key = entry
    if ref() is frame:
        return key
    del _HASHES[id(frame)]
    return None


def kind_name(v: Any) -> str:
    from flyte_jupyter.io import _frames

    return {"pandas": "pandas DataFrame", "arrow": "pyarrow Table", "polars": "polars DataFrame"}.get(
        _frames.kind_of(v) or "", type(v).__qualname__)


def _ref_literal(uri: str, fmt: str, columns: tuple[tuple[str, str], ...], key: str | None) -> pb.Literal:
    return _L(dataframe=pb.DataFrameRef(
        uri=uri, format=fmt, hash=key or "",
        columns=[pb.DataFrameColumn(name=n, type=t) for n, t in columns],
    ))


def encode_wrapper(v: Any, off: Any, columns: tuple[tuple[str, str], ...] = (), method: Any = None) -> pb.Literal:
    """An io.DataFrame as a literal; a wrapped frame is written (once: the DataFrame then holds
    its uri, as Flyte's does after it is uploaded)."""
    from flyte_jupyter._internal.runtime import storage as _storage
    from flyte_jupyter.io import _frames

    key = v.hash
    if v._stored and v.uri:
        uri = v.uri
        if off is not None and _storage.is_plain_path(uri):  # a bare local path: into storage
            local = os.path.abspath(uri)
            uri = off.upload(local, is_dir=os.path.isdir(local), name=os.path.basename(local.rstrip("/")))
        fmt = v.format
    elif v._val is not None:
        if key is None:
            hm = v._hash_method or method
            if hm is not None:
                from flyte_jupyter.io._hashing import hash_value

                key = hash_value(hm, v._val)
        uri = _frames.store(v._val, prefix=_prefix(off), uri=v.uri)
        fmt = _frames.PARQUET
        v.uri, v.format, v.hash, v._stored = uri, fmt, key, True
    else:
        raise _Mismatch(type(v), v, "it holds neither a frame (DataFrame.wrap_df(df)) nor a uri")
    return _ref_literal(uri, fmt, columns or v._columns, key)


def _build_dataframe(tp: Any, base: Any, meta: tuple[Any, ...] = ()) -> _Conv:
    from flyte_jupyter.io import _frames
    from flyte_jupyter.io._dataframe import DataFrame

    c = _Conv(tp)
    columns, fmt_decl, method = _parse_annotations(meta)
    wrapper = bool(getattr(base, "_flyte_dataframe", False))
    kind = None if wrapper else _frames.kind_of_type(base)

    def enc(v: Any, off: Any) -> pb.Literal:
        if isinstance(v, DataFrame):
            lit = encode_wrapper(v, off, columns, method)
        elif not wrapper and _frames.kind_of(v) == kind:
            key = _known_hash(v)
            if key is None and method is not None:
                from flyte_jupyter.io._hashing import hash_value

                key = hash_value(method, v)
            uri = _frames.store(v, prefix=_prefix(off))
            lit = _ref_literal(uri, _frames.PARQUET, columns, key)
        else:
            hint = ""
            if wrapper and _frames.kind_of(v) is not None:
                hint = f"a {kind_name(v)} is not a flyte.io.DataFrame: wrap it with flyte.io.DataFrame.wrap_df(df)"
            raise _Mismatch(tp, v, hint)
        if columns:  # the reader sees only the declared columns: hand a local run that view too
            note_coercion()
        return lit

    def dec(lit: pb.Literal) -> Any:
        if lit.WhichOneof("value") != "dataframe":
            return _wrong_kind(lit, c)
        r = lit.dataframe
        cols = columns or tuple((col.name, col.type) for col in r.columns)
        if wrapper:
            out = DataFrame(uri=r.uri, format=r.format or fmt_decl, hash=r.hash or None)
            out._columns = cols
            return out
        frame = _frames.read(r.uri, r.format or fmt_decl, base, [n for n, _ in cols] or None)
        if r.hash:
            _remember_hash(frame, r.hash)
        return frame

    c.enc, c.dec = enc, dec
    return c


def decode_untyped(lit: pb.Literal) -> Any:
    """A dataframe literal read without a declared type: an io.DataFrame reference."""
    from flyte_jupyter.io._dataframe import DataFrame

    r = lit.dataframe
    out = DataFrame(uri=r.uri, format=r.format, hash=r.hash or None)
    out._columns = tuple((col.name, col.type) for col in r.columns)
    return out
