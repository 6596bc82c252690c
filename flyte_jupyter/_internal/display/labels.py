"""Actions labelled by their inputs (`trial(lr=0.05, i=4)`): the words for a value or a stored literal
in a few characters. One module, so a row reads the same in the notebook widget and in the panel."""

from __future__ import annotations

import dataclasses
import math
import os
from typing import Any

LABEL_CHARS = 48
VALUE_CHARS = 14
NOTEBOOK_CELL = "notebook.cell"  # the task of a `%%flyte run` cell's root: labelled `cell`


def short_task(task: str) -> str:
    """`sweep.trial` -> `trial` (the environment's name is in the row already)."""
    return task.rsplit(".", 1)[-1] if task else "?"


def _clip(text: str, limit: int = VALUE_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def value_word(value: Any) -> str:
    """A Python value in a few characters."""
    if value is None or isinstance(value, bool):
        return repr(value)
    if isinstance(value, int):
        return _clip(repr(value))
    if isinstance(value, float):
        return f"{value:.4g}" if math.isfinite(value) else repr(value)
    if isinstance(value, str):
        return repr(_clip(value, VALUE_CHARS - 2))
    if isinstance(value, (bytes, bytearray)):
        return f"<{len(value)} bytes>"
    shape = getattr(value, "shape", None)
    if isinstance(shape, tuple) and shape and all(isinstance(n, int) for n in shape):
        return f"{type(value).__name__}({'×'.join(str(n) for n in shape)})"
    if isinstance(value, (list, tuple, set, frozenset)):
        text = repr(value)
        return text if len(text) <= VALUE_CHARS else f"[{len(value)} items]"
    if isinstance(value, dict):
        text = repr(value)
        return text if len(text) <= VALUE_CHARS else f"{{{len(value)} keys}}"
    path = getattr(value, "path", None)
    if isinstance(path, str) and type(value).__name__ in ("File", "Dir"):
        return f"{type(value).__name__}({_clip(os.path.basename(path.rstrip('/')) or path)})"
    if dataclasses.is_dataclass(value) or hasattr(value, "model_fields"):
        return f"{type(value).__name__}(…)"
    return type(value).__name__


def literal_word(lit: Any) -> str:
    """A stored literal (see literals.proto) in a few characters, without decoding it."""
    kind = lit.WhichOneof("value")
    if kind is None or kind == "none":
        return "None"
    if kind == "int":
        return _clip(str(lit.int))
    if kind == "float":
        return value_word(lit.float)
    if kind == "bool":
        return repr(lit.bool)
    if kind == "big_int":
        return _clip(lit.big_int)
    if kind == "str":
        return value_word(lit.str)
    if kind == "bytes":
        return f"<{len(lit.bytes)} bytes>"
    if kind in ("ints", "floats", "strs"):
        values = list(getattr(lit, kind).values)
        return value_word(values)
    if kind == "collection":
        return f"[{len(lit.collection.items)} items]"
    if kind == "map":
        return f"{{{len(lit.map.values)} keys}}"
    if kind == "record":
        return f"{lit.record.type_name.rsplit(':', 1)[-1].rsplit('.', 1)[-1]}(…)"
    if kind == "enum":
        return f"{lit.enum.type_name.rsplit(':', 1)[-1].rsplit('.', 1)[-1]}.{lit.enum.name}"
    if kind == "blob":
        what = "Dir" if lit.blob.kind == 1 else "File"
        return f"{what}({_clip(os.path.basename(lit.blob.uri.rstrip('/')) or lit.blob.uri)})"
    if kind == "dataframe":
        return "DataFrame"
    if kind == "union":
        return literal_word(lit.union.value)
    if kind == "datetime":
        return "datetime"
    if kind == "date":
        return "date"
    if kind == "duration":
        return "timedelta"
    if kind == "offloaded":
        return "<stored>"
    return "<object>"


def label_of(task: str, words: dict[str, str] | None) -> str:
    """`trial(lr=0.05, i=4)`, at most LABEL_CHARS long; the task alone while inputs are unknown."""
    name = short_task(task)
    if words is None or (not words and task == NOTEBOOK_CELL):
        return name
    parts: list[str] = []
    size = len(name) + 2
    for key, word in words.items():
        piece = f"{key}={word}"
        if parts and size + len(piece) + 2 > LABEL_CHARS:
            parts.append("…")
            break
        parts.append(piece)
        size += len(piece) + 2
    return f"{name}({', '.join(parts)})"
