"""Encoding values as declared: one value, a map of named values, the bytes of inputs.pb."""

from __future__ import annotations

from typing import Any

from flyte_jupyter._internal.types.core import _COERCIONS, _CONVERTING, _conv
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
    convert: bool = False,
) -> pb.Literal:
    """Encode `value` as declared by `python_type`, checking it on the way.

    With `convert`, values that only fit after a conversion are converted as Flyte converts task
    arguments (a dict for a dataclass or a pydantic model, an enum member's value for a `Literal`
    of members); without it they are mismatches. `to_literal_map` (task inputs and outputs)
    always converts.

    `name` is the parameter name; errors read "<role> '<name>' of task '<task>' expects ...".
    Pass role="output" for named outputs; the names "output" and "value" (or any phrase with a
    space) are used verbatim: "output of task 't' expects int, got str ('x')". With an
    `offload`, a literal above its size limit goes to storage and File/Dir values that hold a
    bare local path (no scheme) are uploaded, so another process or machine can read them;
    `file://` and other URIs already name storage and are passed as they are.
    """
    if convert and not _CONVERTING.on:
        _CONVERTING.on = True
        try:
            return to_literal(value, python_type, name=name, task=task, offload=offload, role=role)
        finally:
            _CONVERTING.on = False
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

    A value that had to be converted to its declared type (a dict given for a dataclass or a
    pydantic model, an enum member's value for a `Literal` of members, a data frame declared with
    a subset of its columns) is replaced *in `values`* by the converted value (the literal decoded
    as declared), so a local run, which hands the task the caller's own objects, gives it what a
    remote run would. Values taken as they are stay the very same objects.
    """
    lm = pb.LiteralMap()
    target = lm.literals
    converted: list[tuple[str, Any]] = []
    outer = _CONVERTING.on
    _CONVERTING.on = True
    try:
        for n, v in values.items():
            try:
                tp = types[n]
            except KeyError:
                where = f" of task '{task}'" if task else ""
                known = ", ".join(types) or "none"
                raise TypeError(f"unexpected {role} '{n}'{where}; declared {role}s: {known}") from None
            before = _COERCIONS[0]
            lit = to_literal(v, tp, name=n, task=task, offload=offload, role=role)
            target[n].CopyFrom(lit)
            if _COERCIONS[0] != before:
                converted.append((n, tp))
    finally:
        _CONVERTING.on = outer
    for n, tp in converted:
        values[n] = _conv(tp).dec(target[n])
    return lm


def encode_inputs(
    values: dict[str, Any], types: dict[str, Any], *, task: str = "", offload: Offloader | None = None
) -> bytes:
    """Serialized LiteralMap bytes (the content of inputs.pb)."""
    return to_literal_map(values, types, task=task, offload=offload).SerializeToString(deterministic=True)
