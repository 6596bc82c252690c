"""Type mismatch errors whose message names the parameter, task, expected type and value."""

from __future__ import annotations

import types
import typing
from typing import Any

from flyte_jupyter._internal.types.core import _NoneType
from flyte_jupyter.errors import TypeMismatchError


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
