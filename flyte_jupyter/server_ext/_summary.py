"""Short, safe text for an action's inputs and outputs, read from storage without the task's types.

The panel shows what went in and came out of an action. The server has no task types and must not
unpickle user objects, so values are rendered straight from the literal messages: primitives and
containers as Python-like text, records by field, files by URI, pickles and offloaded values by
what they are, never by loading them.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any

from flyte_jupyter._internal.display.labels import literal_word

_MAX_ITEMS = 8


def literal_text(lit: Any, limit: int = 200) -> str:
    text = _render(lit, depth=0)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _short_type(type_name: str) -> str:
    return type_name.rsplit(":", 1)[-1].rsplit(".", 1)[-1] or "object"


def _seq(items: list[str], total: int, open_: str = "[", close: str = "]") -> str:
    more = f", … ({total - len(items)} more)" if total > len(items) else ""
    return open_ + ", ".join(items) + more + close


def _render(lit: Any, depth: int) -> str:
    kind = lit.WhichOneof("value")
    if kind is None or kind == "none":
        return "None"
    if kind in ("int", "float", "bool"):
        return repr(getattr(lit, kind))
    if kind == "big_int":
        return lit.big_int
    if kind == "str":
        return repr(lit.str)
    if kind == "bytes":
        return f"<{len(lit.bytes)} bytes>"
    if kind == "datetime":
        value = _dt.datetime(1970, 1, 1) + _dt.timedelta(microseconds=lit.datetime.micros)
        return value.isoformat() + ("" if lit.datetime.naive else "Z")
    if kind == "date":
        return (_dt.date(1970, 1, 1) + _dt.timedelta(days=lit.date)).isoformat()
    if kind == "duration":
        return str(_dt.timedelta(microseconds=lit.duration))
    if depth > 3:
        return "…"
    if kind == "collection":
        items = lit.collection.items
        return _seq([_render(i, depth + 1) for i in items[:_MAX_ITEMS]], len(items))
    if kind in ("ints", "floats"):
        values = getattr(lit, kind).values
        return _seq([repr(v) for v in values[:_MAX_ITEMS]], len(values))
    if kind == "strs":
        values = lit.strs.values
        return _seq([repr(v) for v in values[:_MAX_ITEMS]], len(values))
    if kind == "map":
        m = lit.map
        keys = [repr(k) for k in m.keys] or [_render(k, depth + 1) for k in m.key_literals]
        pairs = [f"{k}: {_render(v, depth + 1)}" for k, v in list(zip(keys, m.values))[:_MAX_ITEMS]]
        return _seq(pairs, len(m.values), "{", "}")
    if kind == "record":
        r = lit.record
        fields = [f"{n}={_render(v, depth + 1)}" for n, v in list(zip(r.names, r.values))[:_MAX_ITEMS]]
        return _seq(fields, len(r.values), f"{_short_type(r.type_name)}(", ")")
    if kind == "enum":
        return f"{_short_type(lit.enum.type_name)}.{lit.enum.name}"
    if kind == "blob":
        what = "Dir" if lit.blob.kind == 1 else "File"
        return f"{what}({lit.blob.uri!r})"
    if kind == "pickle":
        return f"<pickled value, {len(lit.pickle)} bytes>"
    if kind == "offloaded":
        return f"<stored value, {lit.offloaded.size} bytes>"
    if kind == "union":
        return _render(lit.union.value, depth)
    return f"<{kind}>"


def literal_map_text(data: bytes) -> dict[str, str]:
    from flyte_jupyter._internal.wire.proto import literals_pb2

    lm = literals_pb2.LiteralMap()
    lm.ParseFromString(data)
    return {key: literal_text(lm.literals[key]) for key in sorted(lm.literals)}


def read_summaries(inputs_uri: str, outputs_uri: str, succeeded: bool) -> tuple[dict[str, str] | None, dict[str, str] | None]:
    """(inputs, outputs) as text; None where nothing is stored (yet). Blocking: call in a thread."""
    from flyte_jupyter._internal.runtime import storage as _storage

    def read(uri: str) -> dict[str, str] | None:
        if not uri:
            return None
        try:
            return literal_map_text(_storage.get_bytes(uri))
        except FileNotFoundError:
            return None

    inputs = read(inputs_uri)
    outputs = read(_storage.join(outputs_uri, "outputs.pb")) if succeeded and outputs_uri else None
    return inputs, outputs


# -- short labels: `trial(lr=0.05, i=4)` ---------------------------------------------------------------
def input_words(uri: str, order: list[str] | None = None) -> dict[str, str] | None:
    """The words of the inputs stored at `uri`, in the task's order when known; None when nothing
    is stored there (yet). Blocking: call in a thread."""
    from flyte_jupyter._internal.runtime import storage as _storage
    from flyte_jupyter._internal.wire.proto import literals_pb2

    if not uri:
        return None
    try:
        lm = literals_pb2.LiteralMap()
        lm.ParseFromString(_storage.get_bytes(uri))
    except FileNotFoundError:
        return None
    except Exception:
        return {}
    keys = [k for k in lm.literals if not k.startswith("_")]
    rank = {k: i for i, k in enumerate(order or [])}
    keys.sort(key=lambda k: (rank.get(k, len(rank)), k))
    return {k: literal_word(lm.literals[k]) for k in keys}
