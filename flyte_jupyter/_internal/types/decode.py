"""Decoding literals into values of the declared types (offloaded values are fetched)."""

from __future__ import annotations

from typing import Any

from flyte_jupyter._internal.types.core import _conv
from flyte_jupyter._internal.wire.proto import literals_pb2 as pb


def from_literal(lit: pb.Literal, python_type: Any) -> Any:
    """Decode a literal into a value of `python_type` (offloaded values are fetched)."""
    return _conv(python_type).dec(lit)


def from_literal_map(lm: pb.LiteralMap, types: dict[str, Any]) -> dict[str, Any]:
    """Decode named values; names not in `types` are decoded without a type."""
    out = {}
    for n, lit in lm.literals.items():
        tp = types.get(n, Any)
        out[n] = _conv(tp).dec(lit)
    return out


def decode_inputs(data: bytes, types: dict[str, Any]) -> dict[str, Any]:
    """Inverse of encode_inputs."""
    return from_literal_map(pb.LiteralMap.FromString(data), types)
