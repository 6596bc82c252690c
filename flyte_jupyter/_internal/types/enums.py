"""The Enum converter: a member travels as its class and member name."""

from __future__ import annotations

from typing import Any

from flyte_jupyter._internal.types.core import _L, _Conv
from flyte_jupyter._internal.types.errors import _Mismatch
from flyte_jupyter._internal.types.fallback import _wrong_kind
from flyte_jupyter._internal.types.pickled import _pickle
from flyte_jupyter._internal.types.untyped import _same_class_name, _type_name
from flyte_jupyter._internal.wire.proto import literals_pb2 as pb


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
