"""Encoding values as declared: one value, a map of named values, the bytes of inputs.pb."""

from __future__ import annotations

from typing import Any

from flyte_jupyter._internal.types.core import _conv
from flyte_jupyter._internal.types.errors import _Mismatch, _raise_mismatch
from flyte_jupyter._internal.types.offload import _HEAVY, Offloader
from flyte_jupyter._internal.wire.proto import literals_pb2 as pb


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


def encode_inputs(
    values: dict[str, Any], types: dict[str, Any], *, task: str = "", offload: Offloader | None = None
) -> bytes:
    """Serialized LiteralMap bytes (the content of inputs.pb)."""
    return to_literal_map(values, types, task=task, offload=offload).SerializeToString(deterministic=True)
