"""Re-running a run from what the backend stored, and the inputs of its clone form.

Any run can be re-run this way, whoever started it (a `%%flyte run` cell, `%flyte run`, a script,
`flyte.run`): the root action's task spec (its code bundle, image, policies) and its stored inputs
make a new run, so the code is the code that ran, not the notebook as it is now, and nothing of the
user's runs in the Jupyter server. A run of a named series (`flyte-jupyter/series`) takes the next
free name of the series, as the kernel's next run of that cell would.

A clone changes some inputs. The server has no task types and never unpickles, so values are edited
as JSON and encoded back *like the stored value*: an int stays an int, a list of floats a list of
floats, a dataclass a record with the same fields. Values with no JSON form (files, frames,
pickles, offloaded values, datetimes) are shown and kept as stored.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
from typing import Any

from flyte_jupyter._internal.wire.proto import literals_pb2 as lpb

NOT_PLAIN = object()  # a literal with no JSON form
_INT64 = (-(2**63), 2**63 - 1)
_EPOCH = _dt.date(1970, 1, 1)


class InputError(ValueError):
    """An edited input that does not fit the stored value's shape; the message says how it should look."""


# -- stored value -> JSON ---------------------------------------------------------------------------


def literal_to_json(lit: lpb.Literal, depth: int = 0) -> Any:
    """The literal as a JSON value, or NOT_PLAIN."""
    if depth > 20:
        return NOT_PLAIN
    kind = lit.WhichOneof("value")
    if kind is None or kind == "none":
        return None
    if kind in ("int", "bool", "str"):
        return getattr(lit, kind)
    if kind == "big_int":
        try:
            return int(lit.big_int)
        except ValueError:
            return NOT_PLAIN
    if kind == "float":
        return lit.float if math.isfinite(lit.float) else NOT_PLAIN
    if kind in ("ints", "strs"):
        return list(getattr(lit, kind).values)
    if kind == "floats":
        values = list(lit.floats.values)
        return values if all(math.isfinite(v) for v in values) else NOT_PLAIN
    if kind == "date":
        return (_EPOCH + _dt.timedelta(days=lit.date)).isoformat()
    if kind == "enum":
        return lit.enum.name
    if kind == "union":
        return literal_to_json(lit.union.value, depth + 1)
    if kind == "collection":
        items = [literal_to_json(i, depth + 1) for i in lit.collection.items]
        return NOT_PLAIN if any(i is NOT_PLAIN for i in items) else items
    if kind == "map":
        if len(lit.map.key_literals) or len(lit.map.keys) != len(lit.map.values):
            return NOT_PLAIN
        out = {k: literal_to_json(v, depth + 1) for k, v in zip(lit.map.keys, lit.map.values)}
        return NOT_PLAIN if any(v is NOT_PLAIN for v in out.values()) else out
    if kind == "record":
        out = {k: literal_to_json(v, depth + 1) for k, v in zip(lit.record.names, lit.record.values)}
        return NOT_PLAIN if any(v is NOT_PLAIN for v in out.values()) else out
    return NOT_PLAIN


# -- JSON -> a literal shaped like the stored one -----------------------------------------------------


def _shape(template: lpb.Literal) -> str:
    kind = template.WhichOneof("value") or "none"
    return {
        "int": "a whole number", "big_int": "a whole number", "float": "a number", "str": "text (a JSON string)",
        "bool": "true or false", "ints": "a list of whole numbers", "floats": "a list of numbers",
        "strs": "a list of strings", "collection": "a list", "map": "an object", "record": "an object",
        "enum": "a member name (a JSON string)", "date": "a date as \"YYYY-MM-DD\"",
    }.get(kind, "a number, a string or true/false")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return (_is_int(value) or isinstance(value, float)) and math.isfinite(value)


def _int_literal(value: int) -> lpb.Literal:
    if _INT64[0] <= value <= _INT64[1]:
        return lpb.Literal(int=value)
    return lpb.Literal(big_int=str(value))


def _scalar(value: Any, where: str) -> lpb.Literal:
    """A JSON scalar by its own type (where the stored value gives no shape: None, empty lists)."""
    if value is None:
        return lpb.Literal(none=True)
    if isinstance(value, bool):
        return lpb.Literal(bool=value)
    if _is_int(value):
        return _int_literal(value)
    if isinstance(value, float) and math.isfinite(value):
        return lpb.Literal(float=value)
    if isinstance(value, str):
        return lpb.Literal(str=value)
    raise InputError(f"{where}: give a number, a string, true/false or null here (the stored value shows no "
                     "more of its type)")


def literal_from_json(value: Any, template: lpb.Literal, where: str, depth: int = 0) -> lpb.Literal:
    """`value` encoded like `template` (the stored value); InputError when it does not fit."""
    if depth > 20:
        raise InputError(f"{where}: nested too deeply")
    kind = template.WhichOneof("value") or "none"

    def wrong() -> InputError:
        shown = json.dumps(value)
        shown = shown if len(shown) <= 60 else shown[:59] + "…"
        return InputError(f"{where} must be {_shape(template)}, like the value it had; got {shown}")

    if kind == "none":
        return _scalar(value, where)
    if kind in ("int", "big_int"):
        if not _is_int(value):
            raise wrong()
        return _int_literal(value)
    if kind == "float":
        if not _is_number(value):
            raise wrong()
        return lpb.Literal(float=float(value))
    if kind == "str":
        if not isinstance(value, str):
            raise wrong()
        return lpb.Literal(str=value)
    if kind == "bool":
        if not isinstance(value, bool):
            raise wrong()
        return lpb.Literal(bool=value)
    if kind == "ints":
        if not isinstance(value, list) or not all(_is_int(v) and _INT64[0] <= v <= _INT64[1] for v in value):
            raise wrong()
        return lpb.Literal(ints=lpb.Ints(values=value))
    if kind == "floats":
        if not isinstance(value, list) or not all(_is_number(v) for v in value):
            raise wrong()
        return lpb.Literal(floats=lpb.Floats(values=[float(v) for v in value]))
    if kind == "strs":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise wrong()
        return lpb.Literal(strs=lpb.Strs(values=value))
    if kind == "date":
        try:
            day = _dt.date.fromisoformat(value) if isinstance(value, str) else None
        except ValueError:
            day = None
        if day is None:
            raise wrong()
        return lpb.Literal(date=(day - _EPOCH).days)
    if kind == "enum":
        if not isinstance(value, str) or not value:
            raise wrong()
        return lpb.Literal(enum=lpb.EnumValue(type_name=template.enum.type_name, name=value))
    if kind == "union":
        inner = literal_from_json(value, template.union.value, where, depth + 1)
        return lpb.Literal(union=lpb.UnionValue(index=template.union.index, tag=template.union.tag, value=inner))
    if kind == "collection":
        if not isinstance(value, list):
            raise wrong()
        items = list(template.collection.items)
        out = lpb.Collection()
        for i, item in enumerate(value):
            shape = items[min(i, len(items) - 1)] if items else None
            lit = (literal_from_json(item, shape, f"{where}[{i}]", depth + 1) if shape is not None
                   else _scalar(item, f"{where}[{i}]"))
            out.items.append(lit)
        return lpb.Literal(collection=out)
    if kind == "map":
        if not isinstance(value, dict) or len(template.map.key_literals):
            raise wrong()
        known = dict(zip(template.map.keys, template.map.values))
        first = template.map.values[0] if len(template.map.values) else None
        m = lpb.Map()
        for key, item in value.items():
            shape = known.get(key, first)
            m.keys.append(key)
            m.values.append(literal_from_json(item, shape, f"{where}[{key!r}]", depth + 1) if shape is not None
                            else _scalar(item, f"{where}[{key!r}]"))
        return lpb.Literal(map=m)
    if kind == "record":
        names = list(template.record.names)
        if not isinstance(value, dict) or set(value) != set(names):
            raise InputError(f"{where} must be an object with the fields {', '.join(names)}, like the value it had")
        rec = lpb.Record(type_name=template.record.type_name)
        for field, shape in zip(names, template.record.values):
            rec.names.append(field)
            rec.values.append(literal_from_json(value[field], shape, f"{where}.{field}", depth + 1))
        return lpb.Literal(record=rec)
    raise InputError(f"{where} cannot be edited here (a {kind} value); the clone keeps its stored value")


# -- the clone form and the new inputs ----------------------------------------------------------------


def input_fields(spec: Any, lm: lpb.LiteralMap | None) -> list[dict[str, Any]]:
    """The form's fields, in the task's order: name, type, required, the value as JSON text (None
    where it cannot be edited), its short text, and whether it can be edited."""
    from flyte_jupyter.server_ext._summary import literal_text

    literals = lm.literals if lm is not None else {}
    names = [v.name for v in spec.interface.inputs] if spec is not None else []
    names += sorted(k for k in literals if k not in names and not k.startswith("_"))
    declared = {v.name: v for v in spec.interface.inputs} if spec is not None else {}
    fields = []
    for name in names:
        var = declared.get(name)
        lit = literals[name] if name in literals else None
        value = literal_to_json(lit) if lit is not None else NOT_PLAIN
        fields.append({
            "name": name,
            "type": (var.type if var is not None and var.type else None),
            "required": bool(var is not None and not var.has_default),
            "value": json.dumps(value) if value is not NOT_PLAIN else None,
            "text": literal_text(lit) if lit is not None else None,
            "editable": value is not NOT_PLAIN,
        })
    return fields


def edited_inputs(lm: lpb.LiteralMap, edits: dict[str, Any]) -> lpb.LiteralMap:
    """The stored inputs with `edits` (name -> JSON value) applied, each encoded like its stored value."""
    out = lpb.LiteralMap()
    out.CopyFrom(lm)
    unknown = sorted(k for k in edits if k not in lm.literals or k.startswith("_"))
    if unknown:
        known = ", ".join(sorted(k for k in lm.literals if not k.startswith("_"))) or "none"
        raise InputError(f"the run has no input named {unknown[0]!r} (its inputs: {known})")
    for name, value in edits.items():
        out.literals[name].CopyFrom(literal_from_json(value, lm.literals[name], f"input {name!r}"))
    return out


def inputs_hash(spec: Any, lm: lpb.LiteralMap) -> str:
    """The cache key of these inputs, as the SDK computes it (ignored inputs and the custom context
    left out); empty when the task is not cached."""
    if spec is None or not spec.cache.enabled:
        return ""
    from flyte_jupyter._internal.types import literal_map_hash

    copy = lpb.LiteralMap()
    copy.CopyFrom(lm)
    for key in [*spec.cache.ignored_inputs, "_flyte_custom_context"]:
        if key in copy.literals:
            del copy.literals[key]
    return literal_map_hash(copy)


def read_inputs(uri: str) -> lpb.LiteralMap:
    """The stored inputs (blocking: call in a thread); an empty map when none were stored."""
    from flyte_jupyter._internal.runtime import storage as _storage

    lm = lpb.LiteralMap()
    if uri:
        try:
            lm.ParseFromString(_storage.get_bytes(uri))
        except FileNotFoundError:
            pass
    return lm


# -- the backend side -----------------------------------------------------------------------------------


def series_name(base: str, k: int) -> str:
    return base if k == 1 else f"{base}-{k}"


async def next_in_series(client: Any, base: str, project: str, domain: str, limit: int = 999) -> str | None:
    """The first free name of the series `base`, `base-2`, ... (None when none is left)."""
    from flyte_jupyter.errors import BackendError

    for k in range(2, limit + 1):
        candidate = series_name(base, k)
        if len(candidate) > 63:
            return None
        try:
            await client.get_run(candidate, project=project, domain=domain)
        except BackendError as err:
            if err.code == "NOT_FOUND":
                return candidate
            raise
    return None
