"""What a decoder does with a literal of another kind than its type uses (offloaded, pickled, union)."""

from __future__ import annotations

from typing import Any

from flyte_jupyter._internal.types.core import _Conv
from flyte_jupyter._internal.types.errors import _type_repr
from flyte_jupyter._internal.types.offload import _fetch
from flyte_jupyter._internal.types.pickled import _unpickle
from flyte_jupyter._internal.wire.proto import literals_pb2 as pb


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
