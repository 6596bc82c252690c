"""A task's code digest (TaskSpec.code_digest): what resume compares to decide that a task is
unchanged and its succeeded actions may be recovered.

It covers the task function's own source and the code of its module (the notebook's cells, or the
task's file) that the body reaches by name, transitively: functions and classes defined in the same
module, the functions of tasks it calls, and the reprs of module-level constants (numbers, strings,
and small lists, tuples, dicts and sets of them). Changing a helper the task calls, or a constant
it reads, therefore changes the digest, so resume runs the task again. Code from other modules
(libraries) is not part of it: the image pins those.

Names are found in the bytecode (`co_names` of the function and of every nested code object);
attribute names count too, so a method name that happens to match a module-level function pulls
that function in: the digest errs on the side of "changed".
"""

from __future__ import annotations

import hashlib
import inspect
import types
from typing import Any, Callable

_MAX_OBJECTS = 2000  # what one digest walks at most (a huge module is cut, not walked forever)
_MAX_REPR = 10_000  # a constant with a longer repr is left out (not cheap)
_PRIMITIVES = (int, float, complex, str, bytes, bool, type(None))


def code_text(code: Any) -> str:
    """Bytecode as text that is the same in every process: nested code objects (comprehensions,
    inner functions) by their own content, not by their repr, which holds a memory address."""
    consts = tuple(code_text(c) if hasattr(c, "co_code") else repr(c) for c in code.co_consts)
    return repr((code.co_code, consts, code.co_names))


def code_digest(func: Callable, own_source: str) -> str:
    """32 hex digits over `own_source` (the task's source) and what `func` reaches in its module."""
    h = hashlib.sha256(own_source.encode())
    for part in _reached(func):
        h.update(b"\0")
        h.update(part.encode())
    return h.hexdigest()[:32]


def _names(code: Any) -> list[str]:
    out = list(code.co_names)
    for const in code.co_consts:
        if hasattr(const, "co_code"):
            out.extend(_names(const))
    return out


def _source(obj: Any) -> str:
    try:
        return inspect.getsource(obj)
    except (OSError, TypeError):
        if isinstance(obj, types.FunctionType):
            return code_text(obj.__code__)
        return repr(sorted((k, code_text(v.__code__)) for k, v in vars(obj).items()
                           if isinstance(v, types.FunctionType)))


def _cheap_repr(value: Any, depth: int = 0) -> str | None:
    """A repr that is the same in every process, for plain data only (else None)."""
    if isinstance(value, _PRIMITIVES) and type(value) in _PRIMITIVES:
        text = repr(value)
    elif depth < 3 and type(value) in (list, tuple):
        items = [_cheap_repr(v, depth + 1) for v in value]
        if any(i is None for i in items):
            return None
        text = f"{type(value).__name__}[{', '.join(items)}]"  # type: ignore[arg-type]
    elif depth < 3 and type(value) in (set, frozenset):
        items = [_cheap_repr(v, depth + 1) for v in value]
        if any(i is None for i in items):
            return None
        text = f"set[{', '.join(sorted(items))}]"  # type: ignore[arg-type]  # sets: no stable order
    elif depth < 3 and type(value) is dict:
        pairs = [(_cheap_repr(k, depth + 1), _cheap_repr(v, depth + 1)) for k, v in value.items()]
        if any(k is None or v is None for k, v in pairs):
            return None
        text = "dict{" + ", ".join(f"{k}: {v}" for k, v in pairs) + "}"
    else:
        return None
    return text if len(text) <= _MAX_REPR else None


def _reached(func: Callable) -> list[str]:
    """The sources and constants `func` reaches by name in its own module, each once, in the
    order found (deterministic: bytecode order)."""
    module = getattr(func, "__module__", None)
    parts: list[str] = []
    seen: set[int] = {id(func)}
    constants: set[str] = set()  # by name: equal small values are one object
    todo: list[Any] = [func]
    while todo and len(seen) < _MAX_OBJECTS:
        obj = todo.pop(0)
        codes: list[tuple[Any, dict[str, Any]]] = []
        if isinstance(obj, types.FunctionType):
            codes.append((obj.__code__, obj.__globals__))
        else:  # a class: its methods' code
            for member in vars(obj).values():
                target = getattr(member, "__func__", member)
                if isinstance(target, types.FunctionType):
                    codes.append((target.__code__, target.__globals__))
        for code, namespace in codes:
            for name in _names(code):
                if name not in namespace:
                    continue
                value = namespace[name]
                inner = getattr(value, "func", None)  # a task the body calls: its function
                if isinstance(inner, types.FunctionType) and hasattr(value, "interface"):
                    value = inner
                if id(value) in seen:
                    continue
                if isinstance(value, (types.FunctionType, type)):
                    if getattr(value, "__module__", None) != module:
                        continue  # another module's code: the image pins it
                    seen.add(id(value))
                    parts.append(f"{name}:{_source(value)}")
                    todo.append(value)
                    continue
                if name in constants:
                    continue
                text = _cheap_repr(value)
                if text is not None:
                    constants.add(name)
                    parts.append(f"{name}={text}")
    return parts


__all__ = ["code_digest", "code_text"]
