"""Typed values on the wire: Python values <-> `literals.proto` Literals.

Every task input and output crosses this module, locally (the cache key and the child action name
hash the inputs) and remotely (inputs.pb / outputs.pb). So it is built for speed: the Python type
of a parameter is turned once into a converter (an encoder and a decoder, cached per type), and a
call for a couple of primitive arguments costs a few microseconds. cloudpickle, fsspec and
pydantic are imported only when a value needs them.

What goes where:
  int, float, str, bool, bytes, None, datetime, date, timedelta -> scalar fields
  list / set / tuple -> a collection (list[int], list[float], list[str] packed)
  dict -> a map that keeps insertion order
  dataclass, pydantic model, NamedTuple, TypedDict -> a record of named fields
  Enum -> its member name; io.File / io.Dir -> a blob reference
  Union -> the member's literal (tagged with the member index when there are two or more
           non-None members)
  any other class -> cloudpickle (after an isinstance check)
  typing.Any / no annotation -> exact int, float, str, bool, bytes, None as scalars (cheap and
           readable by any reader), everything else cloudpickle
A value whose literal is bigger than the Offloader's `max_inline_bytes` is written to storage and
replaced by an `offloaded` reference, which `from_literal` follows transparently.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import enum
import hashlib
import sys
import threading
import types
import typing
from typing import Any, Callable

from ._proto import literals_pb2 as pb

__all__ = [
    "TypeMismatchError",
    "Offloader",
    "to_literal",
    "from_literal",
    "to_literal_map",
    "from_literal_map",
    "literal_map_hash",
    "encode_inputs",
    "decode_inputs",
]

_L = pb.Literal
_NONE = _L(none=True)
_MiB = 1024 * 1024
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_EPOCH = _dt.datetime(1970, 1, 1)
_EPOCH_UTC = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)
_EPOCH_ORD = _dt.date(1970, 1, 1).toordinal()
_US = _dt.timedelta(microseconds=1)
_NoneType = type(None)
_EMPTY_PARAM: Any = None  # inspect.Parameter.empty, resolved lazily (inspect is slow to import)


# ---------------------------------------------------------------------------------------------
# Errors


class TypeMismatchError(TypeError):
    """A value does not match its declared type.

    The message names the parameter, the task, the expected type and the type given, e.g.
    ``input 'n' of task 'hello.main' expects int, got str ('abc')``; for a nested value it adds
    where inside the value the mismatch is. The parts are kept as attributes too.
    """

    def __init__(self, message: str, *, param: str = "", task: str = "", expected: str = "", got: str = ""):
        super().__init__(message)
        self.param = param
        self.task = task
        self.expected = expected
        self.got = got


class _Mismatch(Exception):
    """Raised inside converters; to_literal turns it into a TypeMismatchError with context."""

    def __init__(self, expected: Any, value: Any, detail: str = ""):
        self.expected = expected
        self.value = value
        self.detail = detail
        self.path: list[str] = []


def _type_repr(tp: Any) -> str:
    if tp is _NoneType or tp is None:
        return "None"
    if tp is Any:
        return "Any"
    if isinstance(tp, type) and not typing.get_args(tp) and type(tp) is not types.GenericAlias:
        return tp.__qualname__
    text = repr(tp).replace("typing.", "").replace("NoneType", "None")
    # Drop module paths: "__main__.Point" -> "Point", "flyte_jupyter.io._file.File" -> "File".
    import re

    return re.sub(r"\b(?:[A-Za-z_]\w*\.)+([A-Za-z_]\w*)", r"\1", text)


def _value_repr(v: Any, limit: int = 60) -> str:
    try:
        r = repr(v)
    except Exception:  # a broken __repr__ must not hide the real error
        r = f"<{type(v).__name__} object>"
    return r if len(r) <= limit else r[: limit - 3] + "..."


def _got(v: Any) -> str:
    return f"{type(v).__qualname__} ({_value_repr(v)})"


_PLAIN_LABELS = frozenset({"value", "output", "input", "return value"})


def _label(name: str, role: str) -> str:
    """'n' -> "input 'n'"; generic names ("output", "value") or phrases are used as they are."""
    return name if " " in name or name in _PLAIN_LABELS else f"{role} '{name}'"


def _raise_mismatch(m: _Mismatch, tp: Any, value: Any, name: str, task: str, role: str) -> typing.NoReturn:
    label = _label(name, role)
    where = f" of task '{task}'" if task else ""
    exp = _type_repr(tp)
    if m.path:
        inner = f"{_type_repr(m.expected)}, got {_got(m.value)}"
        path = "".join(reversed(m.path))
        msg = f"{label}{where} expects {exp}: {name if ' ' not in name else 'value'}{path} expects {inner}"
    else:
        msg = f"{label}{where} expects {exp}, got {_got(value)}"
    if m.detail:
        msg += f" ({m.detail})"
    raise TypeMismatchError(msg, param=name, task=task, expected=exp, got=type(m.value).__qualname__) from None


# ---------------------------------------------------------------------------------------------
# Offloading large values to storage


class Offloader:
    """Moves big literals (and bare local paths behind io.File/io.Dir values) to storage.

    A literal whose serialized size exceeds `max_inline_bytes` is written once, content-addressed,
    under `prefix_uri` and replaced by an `offloaded` reference; the backend database and gRPC
    messages then stay small. `from_literal` reads offloaded values back without an Offloader.
    Note: an offloaded dict is hashed (literal_map_hash) by its stored bytes, which follow the
    dict's insertion order; inline values hash independently of it.
    """

    def __init__(self, prefix_uri: str, max_inline_bytes: int = 10 * _MiB):
        from . import _storage

        self.prefix_uri = _storage.to_uri(prefix_uri)
        self.max_inline_bytes = int(max_inline_bytes)

    def offload(self, lit: pb.Literal) -> pb.Literal:
        """Store `lit` and return the reference that replaces it."""
        from . import _storage

        data = lit.SerializeToString(deterministic=True)
        digest = hashlib.sha256(data).hexdigest()
        uri = _storage.join(self.prefix_uri, "values", f"{digest}.pb")
        if not _storage.exists(uri):
            _storage.put_bytes(uri, data)
        return _L(offloaded=pb.Offloaded(uri=uri, size=len(data), sha256=digest))

    def upload(self, local: str, *, is_dir: bool, name: str) -> str:
        """Copy a local file or directory under the prefix; returns its URI."""
        from . import _storage

        if is_dir:
            import uuid

            key = uuid.uuid4().hex
            return _storage.upload_dir(local, _storage.join(self.prefix_uri, "dirs", key, name or "dir"))
        digest = _file_sha256(local)
        uri = _storage.join(self.prefix_uri, "files", digest, name or "file")
        if not _storage.exists(uri):
            _storage.upload_file(local, uri)
        return uri

    def __repr__(self) -> str:
        return f"Offloader({self.prefix_uri!r}, max_inline_bytes={self.max_inline_bytes})"


def _file_sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _fetch(ref: pb.Offloaded) -> pb.Literal:
    from . import _storage

    try:
        data = _storage.get_bytes(ref.uri)
    except FileNotFoundError:
        raise FileNotFoundError(
            f"offloaded value {ref.uri} is missing from storage; was the data directory cleaned up?"
        ) from None
    if ref.sha256 and hashlib.sha256(data).hexdigest() != ref.sha256:
        raise ValueError(f"offloaded value {ref.uri} does not match its sha256 {ref.sha256}: storage is corrupt")
    return _L.FromString(data)


# Literal kinds that can be large enough to offload (scalars never are).
_HEAVY = frozenset(
    {"str", "bytes", "collection", "ints", "floats", "strs", "map", "record", "pickle", "union", "big_int"}
)


# ---------------------------------------------------------------------------------------------
# Converters


class _Conv:
    """Encoder and decoder for one Python type. Containers hold their children's _Conv objects
    (not their functions) so that a recursive type can refer to itself while being built."""

    __slots__ = ("tp", "enc", "dec")

    def __init__(self, tp: Any, enc: Callable[..., Any] | None = None, dec: Callable[..., Any] | None = None):
        self.tp = tp
        self.enc = enc
        self.dec = dec


_CACHE: dict[Any, _Conv] = {}
_CACHE_MAX = 4096
_BUILD_LOCK = threading.RLock()


def _conv(tp: Any) -> _Conv:
    try:
        return _CACHE[tp]
    except KeyError:
        pass
    except TypeError:  # unhashable annotation (e.g. Annotated with a dict): build uncached
        with _BUILD_LOCK:
            return _build(tp)
    with _BUILD_LOCK:
        c = _CACHE.get(tp)
        if c is None:
            c = _build(tp)
            if len(_CACHE) >= _CACHE_MAX:  # e.g. a notebook re-defining classes all day
                _CACHE.clear()
            _CACHE[tp] = c
        return c


def _wrong_kind(lit: pb.Literal, conv: _Conv) -> Any:
    """Decoder fallback when the literal's kind is not the one the type normally uses."""
    kind = lit.WhichOneof("value")
    if kind == "offloaded":
        return conv.dec(_fetch(lit.offloaded))
    if kind == "pickle":
        return _unpickle(lit.pickle)
    if kind == "union":
        return conv.dec(lit.union.value)
    if kind is None:
        raise ValueError("empty literal: the value was never set")
    raise TypeError(f"cannot read a {kind} literal as {_type_repr(conv.tp)}")


# --- scalars ---------------------------------------------------------------------------------


def _int_lit(v: int) -> pb.Literal:
    if _INT64_MIN <= v <= _INT64_MAX:
        return _L(int=v)
    return _L(big_int=str(v))


def _build_int(tp: Any) -> _Conv:
    c = _Conv(tp)

    def enc(v: Any, off: Any) -> pb.Literal:
        if type(v) is int:
            if _INT64_MIN <= v <= _INT64_MAX:
                return _L(int=v)
            return _L(big_int=str(v))
        if isinstance(v, int) and not isinstance(v, bool):
            return _int_lit(int(v))
        if not isinstance(v, (bool, str, bytes)) and hasattr(v, "__index__"):  # numpy integers
            return _int_lit(v.__index__())
        raise _Mismatch(int, v)

    def dec(lit: pb.Literal) -> Any:
        k = lit.WhichOneof("value")
        if k == "int":
            return lit.int
        if k == "big_int":
            return int(lit.big_int)
        return _wrong_kind(lit, c)

    c.enc, c.dec = enc, dec
    return c


def _build_float(tp: Any) -> _Conv:
    c = _Conv(tp)

    def enc(v: Any, off: Any) -> pb.Literal:
        t = type(v)
        if t is float:
            return _L(float=v)
        if t is int:
            return _L(float=float(v))
        if not isinstance(v, (bool, str, bytes)):
            try:
                import numbers

                if isinstance(v, numbers.Real):
                    return _L(float=float(v))
            except (TypeError, ValueError, OverflowError):
                pass
        raise _Mismatch(float, v)

    def dec(lit: pb.Literal) -> Any:
        k = lit.WhichOneof("value")
        if k == "float":
            return lit.float
        if k == "int":
            return float(lit.int)
        return _wrong_kind(lit, c)

    c.enc, c.dec = enc, dec
    return c


def _scalar(tp: Any, kind: str, enc_fn: Callable[[Any], Any], dec_fn: Callable[[Any], Any]) -> _Conv:
    """A type kept in one scalar field `kind` of Literal. enc_fn returns the Literal, or None
    when the value does not fit the type; dec_fn turns the field's content back into a value."""
    c = _Conv(tp)

    def enc(v: Any, off: Any) -> pb.Literal:
        lit = enc_fn(v)
        if lit is None:
            raise _Mismatch(tp, v)
        return lit

    def dec(lit: pb.Literal) -> Any:
        if lit.WhichOneof("value") == kind:
            return dec_fn(getattr(lit, kind))
        return _wrong_kind(lit, c)

    c.enc, c.dec = enc, dec
    return c


def _same(x: Any) -> Any:
    return x


def _enc_str(v: Any) -> pb.Literal | None:
    return _L(str=v) if isinstance(v, str) else None


def _enc_bool(v: Any) -> pb.Literal | None:
    if v is True or v is False:
        return _L(bool=v)
    return _L(bool=bool(v)) if type(v).__name__ == "bool_" else None  # numpy.bool_


def _enc_bytes(v: Any) -> pb.Literal | None:
    if type(v) is bytes:
        return _L(bytes=v)
    return _L(bytes=bytes(v)) if isinstance(v, (bytes, bytearray, memoryview)) else None


def _enc_none(v: Any) -> pb.Literal | None:
    return _NONE if v is None else None


def _enc_datetime(v: Any) -> pb.Literal | None:
    if not isinstance(v, _dt.datetime):
        return None
    off = v.utcoffset() if v.tzinfo is not None else None
    if off is None:
        return _L(datetime=pb.Datetime(micros=(v - _EPOCH) // _US, naive=True))
    zone = getattr(v.tzinfo, "key", "") if type(v.tzinfo).__name__ == "ZoneInfo" else ""
    return _L(datetime=pb.Datetime(micros=(v - _EPOCH_UTC) // _US, utc_offset=int(off.total_seconds()), zone=zone))


def _datetime_from(m: pb.Datetime) -> _dt.datetime:
    if m.naive:
        return _EPOCH + _dt.timedelta(microseconds=m.micros)
    utc = _EPOCH_UTC + _dt.timedelta(microseconds=m.micros)
    if m.zone:
        try:
            from zoneinfo import ZoneInfo

            return utc.astimezone(ZoneInfo(m.zone))
        except Exception:  # zone database missing on this machine: keep the offset
            pass
    return utc.astimezone(_dt.timezone(_dt.timedelta(seconds=m.utc_offset)))


def _enc_date(v: Any) -> pb.Literal | None:
    if isinstance(v, _dt.date) and not isinstance(v, _dt.datetime):
        return _L(date=v.toordinal() - _EPOCH_ORD)
    return None


def _date_from(days: int) -> _dt.date:
    return _dt.date.fromordinal(days + _EPOCH_ORD)


def _enc_timedelta(v: Any) -> pb.Literal | None:
    return _L(duration=v // _US) if isinstance(v, _dt.timedelta) else None


def _timedelta_from(micros: int) -> _dt.timedelta:
    return _dt.timedelta(microseconds=micros)


# type -> (Literal field, encoder, decoder of the field's content)
_SCALARS: dict[Any, tuple[str, Callable[[Any], Any], Callable[[Any], Any]]] = {
    str: ("str", _enc_str, _same),
    bool: ("bool", _enc_bool, _same),
    bytes: ("bytes", _enc_bytes, _same),
    bytearray: ("bytes", _enc_bytes, bytearray),
    _NoneType: ("none", _enc_none, lambda _: None),
    _dt.datetime: ("datetime", _enc_datetime, _datetime_from),
    _dt.date: ("date", _enc_date, _date_from),
    _dt.timedelta: ("duration", _enc_timedelta, _timedelta_from),
}


# --- pickle and "anything" -------------------------------------------------------------------


def _pickle(v: Any) -> pb.Literal:
    import cloudpickle

    return _L(pickle=cloudpickle.dumps(v))


def _unpickle(data: bytes) -> Any:
    import pickle

    return pickle.loads(data)


_ANY_SCALARS: dict[type, Callable[[Any], pb.Literal]] = {
    int: _int_lit,
    float: lambda v: _L(float=v),
    str: lambda v: _L(str=v),
    bool: lambda v: _L(bool=v),
    bytes: lambda v: _L(bytes=v),
    _NoneType: lambda v: _NONE,
}


def _enc_any(v: Any, off: Any) -> pb.Literal:
    """Any: exact builtin scalars as typed literals (readable anywhere), all else pickled."""
    f = _ANY_SCALARS.get(type(v))
    if f is not None:
        return f(v)
    blob_kind = getattr(type(v), "_flyte_blob_kind", None)
    if blob_kind is not None:
        return _conv(type(v)).enc(v, off)
    return _pickle(v)


def _dec_any(lit: pb.Literal) -> Any:
    """Decode without a Python type: what the literal itself says."""
    k = lit.WhichOneof("value")
    if k in ("int", "float", "str", "bool", "bytes"):
        return getattr(lit, k)
    if k == "none" or k is None:
        return None
    if k == "pickle":
        return _unpickle(lit.pickle)
    if k == "big_int":
        return int(lit.big_int)
    if k == "datetime":
        return _datetime_from(lit.datetime)
    if k == "date":
        return _date_from(lit.date)
    if k == "duration":
        return _timedelta_from(lit.duration)
    if k == "collection":
        return [_dec_any(i) for i in lit.collection.items]
    if k in ("ints", "floats", "strs"):
        return list(getattr(lit, k).values)
    if k == "map":
        m = lit.map
        keys = list(m.keys) if m.keys else [_dec_any(x) for x in m.key_literals]
        return {key: _dec_any(val) for key, val in zip(keys, m.values)}
    if k == "record":
        cls = _find_class(lit.record.type_name)
        if cls is not None:
            return _conv(cls).dec(lit)
        return {n: _dec_any(val) for n, val in zip(lit.record.names, lit.record.values)}
    if k == "enum":
        cls = _find_class(lit.enum.type_name)
        return cls[lit.enum.name] if cls is not None else lit.enum.name
    if k == "blob":
        from .io import Dir, File

        return _conv(Dir if lit.blob.kind == pb.Blob.DIR else File).dec(lit)
    if k == "offloaded":
        return _dec_any(_fetch(lit.offloaded))
    if k == "union":
        return _dec_any(lit.union.value)
    raise TypeError(f"unknown literal kind {k!r}")


def _find_class(type_name: str) -> Any:
    """A class by 'module.qualname', only if its module is already imported (no import side
    effects while decoding)."""
    module, _, qual = type_name.partition(":")
    mod = sys.modules.get(module)
    if mod is None:
        return None
    obj: Any = mod
    for part in qual.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj


def _type_name(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def _build_any(tp: Any) -> _Conv:
    return _Conv(tp, _enc_any, _dec_any)


def _build_pickled_class(tp: Any, check_cls: Any) -> _Conv:
    """Any other class: checked with isinstance when possible, carried as a pickle."""
    c = _Conv(tp)

    def enc(v: Any, off: Any) -> pb.Literal:
        if check_cls is not None:
            try:
                ok = isinstance(v, check_cls)
            except TypeError:
                ok = True
            if not ok and not _same_class_name(type(v), check_cls):
                raise _Mismatch(tp, v)
        return _pickle(v)

    def dec(lit: pb.Literal) -> Any:
        if lit.WhichOneof("value") == "pickle":
            return _unpickle(lit.pickle)
        return _dec_any(lit)

    c.enc, c.dec = enc, dec
    return c


def _same_class_name(a: type, b: Any) -> bool:
    """A class re-defined by re-running a notebook cell is a new object with the same name;
    values of the old class are still accepted."""
    return (
        isinstance(b, type)
        and a.__qualname__ == b.__qualname__
        and a.__module__ == b.__module__
        and a.__module__ == "__main__"
    )


# --- collections -----------------------------------------------------------------------------


def _packed_enc(item_tp: Any) -> Callable[[Any], pb.Literal | None] | None:
    """Fast path for list[int] / list[float] / list[str]: one packed message, no per-item
    Literal. Returns None (use the generic path) when an item is not exactly of the type."""
    if item_tp is int:

        def enc_ints(seq: Any) -> pb.Literal | None:
            for x in seq:
                if type(x) is not int or x > _INT64_MAX or x < _INT64_MIN:
                    return None
            return _L(ints=pb.Ints(values=seq))

        return enc_ints
    if item_tp is float:

        def enc_floats(seq: Any) -> pb.Literal | None:
            for x in seq:
                if type(x) is not float and type(x) is not int:
                    return None
            return _L(floats=pb.Floats(values=seq))

        return enc_floats
    if item_tp is str:

        def enc_strs(seq: Any) -> pb.Literal | None:
            for x in seq:
                if type(x) is not str:
                    return None
            return _L(strs=pb.Strs(values=seq))

        return enc_strs
    return None


def _items_of(lit: pb.Literal, item: _Conv, c: _Conv) -> list[Any] | None:
    """Decoded items of a collection-like literal, or None when the kind is something else."""
    k = lit.WhichOneof("value")
    if k == "collection":
        d = item.dec
        return [d(x) for x in lit.collection.items]
    if k == "ints":
        return [float(x) for x in lit.ints.values] if item.tp is float else list(lit.ints.values)
    if k == "strs" or k == "floats":
        return list(getattr(lit, k).values)
    return None


def _build_sequence(tp: Any, item_tp: Any, accept: tuple[type, ...], make: Callable[[list[Any]], Any]) -> _Conv:
    """list[T], tuple[T, ...], set[T], frozenset[T], Sequence[T]."""
    c = _Conv(tp)
    item = _conv(item_tp)
    packed = _packed_enc(item_tp)
    is_set = make is set or make is frozenset

    def enc(v: Any, off: Any) -> pb.Literal:
        if not isinstance(v, accept) or isinstance(v, (str, bytes)):
            raise _Mismatch(tp, v)
        if is_set:
            v = list(v)
        if packed is not None:
            lit = packed(v)
            if lit is not None:
                if is_set:
                    _sort_packed(lit)
                return lit
        e = item.enc
        i = 0
        try:
            items = []
            for i, x in enumerate(v):  # noqa: B007 - i is read in the except clause
                items.append(e(x, off))
        except _Mismatch as m:
            m.path.append(f"[{i}]" if not is_set else "{item}")
            raise
        if is_set:  # sets have no order: sort for a deterministic wire form and hash
            items.sort(key=_canon)
        return _L(collection=pb.Collection(items=items))

    def dec(lit: pb.Literal) -> Any:
        items = _items_of(lit, item, c)
        if items is None:
            return _wrong_kind(lit, c)
        return make(items)

    c.enc, c.dec = enc, dec
    return c


def _sort_packed(lit: pb.Literal) -> None:
    field = getattr(lit, lit.WhichOneof("value"))
    vals = sorted(field.values)
    del field.values[:]
    field.values.extend(vals)


def _build_fixed_tuple(tp: Any, args: tuple[Any, ...]) -> _Conv:
    c = _Conv(tp)
    convs = [_conv(a) for a in args]
    n = len(convs)

    def enc(v: Any, off: Any) -> pb.Literal:
        if not isinstance(v, tuple) or len(v) != n:
            raise _Mismatch(tp, v, "" if not isinstance(v, tuple) else f"{len(v)} items instead of {n}")
        items = []
        i = 0
        try:
            for i in range(n):
                items.append(convs[i].enc(v[i], off))
        except _Mismatch as m:
            m.path.append(f"[{i}]")
            raise
        return _L(collection=pb.Collection(items=items))

    def dec(lit: pb.Literal) -> Any:
        if lit.WhichOneof("value") != "collection":
            return _wrong_kind(lit, c)
        items = lit.collection.items
        if len(items) != n:
            raise TypeError(f"expected {n} items for {_type_repr(tp)}, found {len(items)}")
        return tuple(convs[i].dec(items[i]) for i in range(n))

    c.enc, c.dec = enc, dec
    return c


def _build_dict(tp: Any, key_tp: Any, val_tp: Any) -> _Conv:
    c = _Conv(tp)
    kc = _conv(key_tp)
    vc = _conv(val_tp)

    def enc(v: Any, off: Any) -> pb.Literal:
        if not isinstance(v, dict):
            from collections.abc import Mapping

            if not isinstance(v, Mapping):
                raise _Mismatch(tp, v)
            v = dict(v)
        ve = vc.enc
        key: Any = None
        try:
            if key_tp is str or (key_tp is Any and all(type(k) is str for k in v)):
                keys, values = [], []
                for key, x in v.items():
                    if type(key) is not str:
                        if not isinstance(key, str):
                            raise _Mismatch(str, key, "a dict key")
                        key = str.__str__(key)  # str subclasses (str enums) as their plain value
                    keys.append(key)
                    values.append(ve(x, off))
                return _L(map=pb.Map(keys=keys, values=values))
            ke = kc.enc
            klits, values = [], []
            for key, x in v.items():
                klits.append(ke(key, off))
                values.append(ve(x, off))
            return _L(map=pb.Map(key_literals=klits, values=values))
        except _Mismatch as m:
            m.path.append(f"[{_value_repr(key, 30)}]")
            raise

    def dec(lit: pb.Literal) -> Any:
        if lit.WhichOneof("value") != "map":
            return _wrong_kind(lit, c)
        m = lit.map
        vd = vc.dec
        if m.keys or not m.key_literals:
            keys: Any = m.keys if key_tp is str or key_tp is Any else [kc.dec(_L(str=k)) for k in m.keys]
        else:
            kd = kc.dec
            keys = [kd(x) for x in m.key_literals]
        return {key: vd(val) for key, val in zip(keys, m.values)}

    c.enc, c.dec = enc, dec
    return c


# --- unions ----------------------------------------------------------------------------------


def _build_union(tp: Any, args: tuple[Any, ...]) -> _Conv:
    c = _Conv(tp)
    has_none = _NoneType in args
    members = [a for a in args if a is not _NoneType]
    if len(members) == 1:  # Optional[X]: no tag needed, None has its own literal
        inner = _conv(members[0])

        def enc_opt(v: Any, off: Any) -> pb.Literal:
            if v is None:
                return _NONE
            try:
                return inner.enc(v, off)
            except _Mismatch as m:
                if not m.path:
                    raise _Mismatch(tp, v, m.detail) from None
                raise

        def dec_opt(lit: pb.Literal) -> Any:
            if lit.WhichOneof("value") == "none":
                return None
            return inner.dec(lit)

        c.enc, c.dec = enc_opt, dec_opt
        return c

    convs = [_conv(m) for m in members]
    tags = [_type_repr(m) for m in members]
    exact = {m: i for i, m in enumerate(members) if isinstance(m, type)}

    def enc(v: Any, off: Any) -> pb.Literal:
        if v is None and has_none:
            return _NONE
        i = exact.get(type(v))
        if i is not None:
            try:
                return _L(union=pb.UnionValue(index=i, tag=tags[i], value=convs[i].enc(v, off)))
            except _Mismatch:
                pass
        for i, cv in enumerate(convs):
            try:
                return _L(union=pb.UnionValue(index=i, tag=tags[i], value=cv.enc(v, off)))
            except _Mismatch:
                continue
        raise _Mismatch(tp, v)

    def dec(lit: pb.Literal) -> Any:
        k = lit.WhichOneof("value")
        if k == "none":
            return None
        if k == "union":
            u = lit.union
            if u.index < len(convs) and tags[u.index] == u.tag:
                return convs[u.index].dec(u.value)
            if u.tag in tags:  # the annotation's member order changed
                return convs[tags.index(u.tag)].dec(u.value)
            return _dec_any(u.value)
        if k == "offloaded":
            return dec(_fetch(lit.offloaded))
        return _dec_any(lit)

    c.enc, c.dec = enc, dec
    return c


def _build_literal(tp: Any, args: tuple[Any, ...]) -> _Conv:
    c = _Conv(tp)
    allowed = {(type(a), a) for a in args}

    def enc(v: Any, off: Any) -> pb.Literal:
        try:
            ok = (type(v), v) in allowed
        except TypeError:
            ok = False
        if not ok:
            raise _Mismatch(tp, v)
        return _enc_any(v, off)

    c.enc, c.dec = enc, _dec_any
    return c


# --- records ---------------------------------------------------------------------------------


def _hints(cls: Any) -> dict[str, Any]:
    """Resolved annotations of a class; unresolvable ones (e.g. a name defined later in a
    notebook) become Any instead of failing the task."""
    try:
        return typing.get_type_hints(cls)
    except Exception:
        out = {}
        for klass in reversed(getattr(cls, "__mro__", [cls])):
            for k, v in getattr(klass, "__annotations__", {}).items():
                out[k] = Any if isinstance(v, str) else v
        return out


def _build_record(
    tp: Any,
    cls: type,
    fields: list[tuple[str, Any]],
    check: Callable[[Any], bool],
    get: Callable[[Any, str], Any],
    make: Callable[[dict[str, Any]], Any],
    optional_names: frozenset[str] = frozenset(),
    extras: Callable[[Any], dict[str, Any] | None] | None = None,
) -> _Conv:
    """Shared shape of dataclass / NamedTuple / TypedDict / pydantic converters."""
    c = _Conv(tp)
    _CACHE_PENDING[tp] = c  # a field may refer back to this type
    try:
        fconvs = [(n, _conv(t)) for n, t in fields]
    finally:
        _CACHE_PENDING.pop(tp, None)
    by_name = dict(fconvs)
    type_name = _type_name(cls)

    def enc(v: Any, off: Any) -> pb.Literal:
        if not check(v):
            raise _Mismatch(tp, v)
        names, values = [], []
        n = ""
        try:
            for n, fc in fconvs:
                x = get(v, n)
                if x is _ABSENT:
                    if n in optional_names:
                        continue
                    raise _Mismatch(tp, v, f"missing key {n!r}")
                names.append(n)
                values.append(fc.enc(x, off))
            more = extras(v) if extras is not None else None
            if more:  # e.g. a pydantic model's extra="allow" fields: no declared type
                for n, x in more.items():
                    names.append(n)
                    values.append(_enc_any(x, off))
        except _Mismatch as m:
            if m.value is not v:
                m.path.append(f".{n}" if not isinstance(v, dict) else f"[{n!r}]")
            raise
        return _L(record=pb.Record(type_name=type_name, names=names, values=values))

    def dec(lit: pb.Literal) -> Any:
        if lit.WhichOneof("value") != "record":
            return _wrong_kind(lit, c)
        r = lit.record
        out = {}
        for n, val in zip(r.names, r.values):
            fc = by_name.get(n)
            out[n] = fc.dec(val) if fc is not None else _dec_any(val)
        return make(out)

    c.enc, c.dec = enc, dec
    return c


_CACHE_PENDING: dict[Any, _Conv] = {}
_ABSENT = object()


def _build_dataclass(tp: Any) -> _Conv:
    cls = tp
    hints = _hints(cls)
    flds = dataclasses.fields(cls)
    fields = [(f.name, hints.get(f.name, Any)) for f in flds]

    def check(v: Any) -> bool:
        return isinstance(v, cls) or _same_class_name(type(v), cls)

    def make(values: dict[str, Any]) -> Any:
        # Restore the fields as they were, without re-running __init__/__post_init__.
        obj = cls.__new__(cls)
        for n, x in values.items():
            object.__setattr__(obj, n, x)
        return obj

    return _build_record(tp, cls, fields, check, getattr, make)


def _build_namedtuple(tp: Any) -> _Conv:
    cls = tp
    hints = _hints(cls)
    fields = [(n, hints.get(n, Any)) for n in cls._fields]

    def check(v: Any) -> bool:
        return isinstance(v, cls) or _same_class_name(type(v), cls)

    return _build_record(tp, cls, fields, check, getattr, lambda d: cls(**d))


def _build_typeddict(tp: Any) -> _Conv:
    cls = tp
    hints = _hints(cls)
    required = getattr(cls, "__required_keys__", frozenset(hints))
    optional = frozenset(hints) - frozenset(required)
    fields = list(hints.items())
    allowed = frozenset(hints)

    def check(v: Any) -> bool:
        return isinstance(v, dict) and all(k in allowed for k in v)

    def get(v: dict[str, Any], n: str) -> Any:
        return v.get(n, _ABSENT)

    return _build_record(tp, cls, fields, check, get, dict, optional)


def _build_pydantic(tp: Any) -> _Conv:
    cls = tp
    fields = [(n, f.annotation if f.annotation is not None else Any) for n, f in cls.model_fields.items()]

    def check(v: Any) -> bool:
        return isinstance(v, cls) or _same_class_name(type(v), cls)

    def make(values: dict[str, Any]) -> Any:
        # The values were valid when sent; construct without re-running validators.
        return cls.model_construct(**values)

    def extras(v: Any) -> dict[str, Any] | None:
        return getattr(v, "model_extra", None)

    return _build_record(tp, cls, fields, check, getattr, make, extras=extras)


def _build_enum(tp: Any) -> _Conv:
    cls = tp
    c = _Conv(tp)
    type_name = _type_name(cls)

    def enc(v: Any, off: Any) -> pb.Literal:
        if not (isinstance(v, cls) or _same_class_name(type(v), cls)):
            raise _Mismatch(tp, v)
        name = v.name
        if name is None or name not in cls.__members__:  # combined Flag values have no member name
            return _pickle(v)
        return _L(enum=pb.EnumValue(type_name=type_name, name=name))

    def dec(lit: pb.Literal) -> Any:
        if lit.WhichOneof("value") == "enum":
            return cls[lit.enum.name]
        return _wrong_kind(lit, c)

    c.enc, c.dec = enc, dec
    return c


def _build_blob(tp: Any, cls: Any) -> _Conv:
    c = _Conv(tp)
    is_dir = cls._flyte_blob_kind == "dir"
    kind = pb.Blob.DIR if is_dir else pb.Blob.FILE

    def enc(v: Any, off: Any) -> pb.Literal:
        if not isinstance(v, cls):
            raise _Mismatch(tp, v)
        uri = v.path
        if off is not None:
            from . import _storage

            if _storage.is_plain_path(uri):  # a bare local path means nothing to another process
                uri = off.upload(uri, is_dir=is_dir, name=v.name or "")
        return _L(blob=pb.Blob(uri=uri, kind=kind, name=v.name or "", format=v.format or "", hash=v.hash or ""))

    def dec(lit: pb.Literal) -> Any:
        if lit.WhichOneof("value") != "blob":
            return _wrong_kind(lit, c)
        b = lit.blob
        return cls(path=b.uri, name=b.name or None, format=b.format, hash=b.hash or None)

    c.enc, c.dec = enc, dec
    return c


# --- dispatch --------------------------------------------------------------------------------


def _is_pydantic_model(tp: Any) -> bool:
    pyd = sys.modules.get("pydantic")  # a BaseModel subclass implies pydantic is imported
    return pyd is not None and isinstance(tp, type) and issubclass(tp, pyd.BaseModel)


def _build(tp: Any) -> _Conv:
    pending = _CACHE_PENDING.get(tp)
    if pending is not None:
        return pending
    global _EMPTY_PARAM
    if tp is Any or tp is object:
        return _build_any(tp)
    if tp is int:
        return _build_int(tp)
    if tp is float:
        return _build_float(tp)
    is_class = isinstance(tp, type) and not isinstance(tp, types.GenericAlias)  # list[int] is a type on 3.10
    scalar = _SCALARS.get(_NoneType if tp is None else tp) if is_class or tp is None else None
    if scalar is not None:
        return _scalar(tp, *scalar)
    if isinstance(tp, str) or isinstance(tp, typing.ForwardRef) or isinstance(tp, typing.TypeVar):
        return _build_any(tp)  # unresolved annotation: nothing to check against
    if _EMPTY_PARAM is None:
        import inspect

        _EMPTY_PARAM = inspect.Parameter.empty
    if tp is _EMPTY_PARAM:
        return _build_any(tp)

    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is typing.Annotated:
        return _conv(args[0])
    if origin is typing.Union or (hasattr(types, "UnionType") and origin is types.UnionType):
        return _build_union(tp, args)
    if origin is typing.Literal:
        return _build_literal(tp, args)
    if hasattr(tp, "__supertype__"):  # typing.NewType
        return _conv(tp.__supertype__)

    import collections.abc as cabc

    if tp is list or origin is list:
        return _build_sequence(tp, args[0] if args else Any, (list,), list)
    if origin in (cabc.Sequence, cabc.MutableSequence) or tp in (cabc.Sequence, cabc.MutableSequence):
        return _build_sequence(tp, args[0] if args else Any, (list, tuple), list)
    if tp is set or origin is set or origin is cabc.Set or origin is cabc.MutableSet:
        return _build_sequence(tp, args[0] if args else Any, (set, frozenset), set)
    if tp is frozenset or origin is frozenset:
        return _build_sequence(tp, args[0] if args else Any, (set, frozenset), frozenset)
    if tp is tuple or origin is tuple:
        if not args or (len(args) == 2 and args[1] is Ellipsis):
            return _build_sequence(tp, args[0] if args else Any, (tuple,), tuple)
        if args == ((),):  # tuple[()]
            return _build_fixed_tuple(tp, ())
        return _build_fixed_tuple(tp, args)
    if tp is dict or origin is dict or origin in (cabc.Mapping, cabc.MutableMapping) or tp in (
        cabc.Mapping,
        cabc.MutableMapping,
    ):
        k, v = args if len(args) == 2 else (Any, Any)
        return _build_dict(tp, k, v)

    if is_class:
        if getattr(tp, "_flyte_blob_kind", None) is not None:
            return _build_blob(tp, tp)
        if issubclass(tp, enum.Enum):
            return _build_enum(tp)
        if dataclasses.is_dataclass(tp):
            return _build_dataclass(tp)
        if issubclass(tp, tuple) and hasattr(tp, "_fields"):
            return _build_namedtuple(tp)
        if typing.is_typeddict(tp) or (issubclass(tp, dict) and hasattr(tp, "__required_keys__")):
            return _build_typeddict(tp)
        if _is_pydantic_model(tp):
            return _build_pydantic(tp)
        return _build_pickled_class(tp, tp)
    if origin is not None and isinstance(origin, type):
        if getattr(origin, "_flyte_blob_kind", None) is not None:  # File[...] / Dir[...]
            return _build_blob(tp, origin)
        if dataclasses.is_dataclass(origin) or _is_pydantic_model(origin):
            return _conv(origin)
        return _build_pickled_class(tp, origin)
    return _build_pickled_class(tp, None)


# ---------------------------------------------------------------------------------------------
# Public API


def to_literal(
    value: Any,
    python_type: Any,
    *,
    name: str = "value",
    task: str = "",
    offload: Offloader | None = None,
    role: str = "input",
) -> pb.Literal:
    """Encode `value` as declared by `python_type`, checking it on the way.

    `name` is the parameter name; errors read "<role> '<name>' of task '<task>' expects ...".
    Pass role="output" for named outputs; the names "output" and "value" (or any phrase with a
    space) are used verbatim: "output of task 't' expects int, got str ('x')". With an
    `offload`, a literal above its size limit goes to storage and File/Dir values that hold a
    bare local path (no scheme) are uploaded, so another process or machine can read them;
    `file://` and other URIs already name storage and are passed as they are.
    """
    try:
        lit = _conv(python_type).enc(value, offload)
    except _Mismatch as m:
        _raise_mismatch(m, python_type, value, name, task, role)
    if offload is not None and lit.WhichOneof("value") in _HEAVY and lit.ByteSize() > offload.max_inline_bytes:
        lit = offload.offload(lit)
    return lit


def from_literal(lit: pb.Literal, python_type: Any) -> Any:
    """Decode a literal into a value of `python_type` (offloaded values are fetched)."""
    return _conv(python_type).dec(lit)


def to_literal_map(
    values: dict[str, Any],
    types: dict[str, Any],
    *,
    task: str = "",
    offload: Offloader | None = None,
    role: str = "input",
) -> pb.LiteralMap:
    """Encode named values (a task's inputs, or with role="output" its outputs).

    Every name in `values` must be declared in `types`; names missing from `values` are simply
    absent (defaults are bound by the caller).
    """
    lm = pb.LiteralMap()
    target = lm.literals
    for n, v in values.items():
        try:
            tp = types[n]
        except KeyError:
            where = f" of task '{task}'" if task else ""
            known = ", ".join(types) or "none"
            raise TypeError(f"unexpected {role} '{n}'{where}; declared {role}s: {known}") from None
        target[n].CopyFrom(to_literal(v, tp, name=n, task=task, offload=offload, role=role))
    return lm


def from_literal_map(lm: pb.LiteralMap, types: dict[str, Any]) -> dict[str, Any]:
    """Decode named values; names not in `types` are decoded without a type."""
    out = {}
    for n, lit in lm.literals.items():
        tp = types.get(n, Any)
        out[n] = _conv(tp).dec(lit)
    return out


def _canon(lit: pb.Literal) -> bytes:
    """Canonical bytes of a literal: like its deterministic serialization, but with dict entries
    sorted, so equal dicts hash equally whatever their insertion order."""
    k = lit.WhichOneof("value")
    if k == "map":
        m = lit.map
        keys = [_L(str=x).SerializeToString() for x in m.keys] if m.keys else [_canon(x) for x in m.key_literals]
        entries = sorted(zip(keys, (_canon(v) for v in m.values)))
        return b"M" + b"".join(_frame(a) + _frame(b) for a, b in entries)
    if k == "collection":
        return b"C" + b"".join(_frame(_canon(x)) for x in lit.collection.items)
    if k == "record":
        r = lit.record
        return b"R" + _frame(r.type_name.encode()) + b"".join(
            _frame(n.encode()) + _frame(_canon(v)) for n, v in zip(r.names, r.values)
        )
    if k == "union":
        return b"U" + _frame(lit.union.tag.encode()) + _frame(_canon(lit.union.value))
    return lit.SerializeToString(deterministic=True)


def _frame(b: bytes) -> bytes:
    return len(b).to_bytes(8, "little") + b


def literal_map_hash(lm: pb.LiteralMap) -> str:
    """sha256 (hex) of the canonical content of a LiteralMap: equal values give equal hashes,
    independent of argument order and of dict insertion order (cache keys, child names)."""
    h = hashlib.sha256()
    lits = lm.literals
    for n in sorted(lits):
        h.update(_frame(n.encode()))
        h.update(_frame(_canon(lits[n])))
    return h.hexdigest()


def encode_inputs(
    values: dict[str, Any], types: dict[str, Any], *, task: str = "", offload: Offloader | None = None
) -> bytes:
    """Serialized LiteralMap bytes (the content of inputs.pb)."""
    return to_literal_map(values, types, task=task, offload=offload).SerializeToString(deterministic=True)


def decode_inputs(data: bytes, types: dict[str, Any]) -> dict[str, Any]:
    """Inverse of encode_inputs."""
    return from_literal_map(pb.LiteralMap.FromString(data), types)
