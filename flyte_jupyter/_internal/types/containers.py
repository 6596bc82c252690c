"""Converters for lists, sets, tuples and dicts (list[int] / list[float] / list[str] packed)."""

from __future__ import annotations

from typing import Any, Callable, Iterable, cast

from flyte_jupyter._internal.types.core import _L, _Conv, _conv
from flyte_jupyter._internal.types.errors import _Mismatch, _type_repr, _value_repr
from flyte_jupyter._internal.types.fallback import _wrong_kind
from flyte_jupyter._internal.types.hashing import _canon
from flyte_jupyter._internal.types.scalars import _INT64_MAX, _INT64_MIN
from flyte_jupyter._internal.wire.proto import literals_pb2 as pb


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
            v = list(cast("Iterable[Any]", v))  # a set or frozenset (isinstance above)
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
