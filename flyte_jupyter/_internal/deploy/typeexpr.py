"""A task's Python types as text a registration keeps (`describe`), and back (`resolve`).

A registered task is launched where its code may not be: by name from the CLI, the panel, or a
notebook that never imported it. Its inputs must still be encoded as declared, so the registration
keeps each type as an expression: builtins and their generics (`list[int]`, `dict[str, float]`,
`tuple[int, ...]`), `Optional[...]`, `Union[...]`, `Literal[...]`, `datetime.datetime`, `Any`,
`flyte.io.File`; a class of the task's own code (a dataclass, a pydantic model, an Enum) as a quoted
`'module:QualName'`.

`resolve` reads an expression without evaluating it (its `ast` only) and never imports anything: a
class is found only in a module already imported here, else it reads as `Any` (the value is then
sent as it is, and the task's own types decide in the action).
"""

from __future__ import annotations

import ast
import collections.abc
import datetime
import sys
import types
import typing
from typing import Any

_NONE = type(None)
_NAMES: dict[str, Any] = {
    "int": int, "float": float, "str": str, "bool": bool, "bytes": bytes, "list": list, "dict": dict,
    "set": set, "frozenset": frozenset, "tuple": tuple, "None": _NONE, "Any": Any, "object": object,
}
_DOTTED: dict[str, Any] = {
    "datetime.datetime": datetime.datetime, "datetime.date": datetime.date, "datetime.timedelta": datetime.timedelta,
}
_FLYTE_IO = ("File", "Dir", "DataFrame")
_ABSTRACT = {
    collections.abc.Sequence: "list", collections.abc.MutableSequence: "list", collections.abc.Iterable: "list",
    collections.abc.Mapping: "dict", collections.abc.MutableMapping: "dict",
    collections.abc.Set: "set", collections.abc.MutableSet: "set",
}
_LITERAL_VALUES = (str, int, float, bool, bytes, _NONE)


def _class_name(cls: Any) -> str:
    for name, value in _NAMES.items():
        if value is cls:
            return name
    for name, value in _DOTTED.items():
        if value is cls:
            return name
    if cls in _ABSTRACT:
        return _ABSTRACT[cls]
    module = getattr(cls, "__module__", "") or ""
    if module.startswith("flyte_jupyter.io") and cls.__name__ in _FLYTE_IO:
        return f"flyte.io.{cls.__name__}"
    return repr(f"{module}:{getattr(cls, '__qualname__', getattr(cls, '__name__', '?'))}")


def describe(tp: Any) -> str:
    """The expression of a Python type (an annotation); what it cannot say reads "Any"."""
    if tp is None or tp is _NONE:
        return "None"
    if tp is Any:
        return "Any"
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is typing.Annotated:
        return describe(args[0])
    if origin is typing.Union or isinstance(tp, getattr(types, "UnionType", ())):
        members = [a for a in args if a is not _NONE]
        if len(members) < len(args):
            inner = members[0] if len(members) == 1 else typing.Union[tuple(members)]  # type: ignore[valid-type]
            return f"Optional[{describe(inner)}]"
        return "Union[" + ", ".join(describe(a) for a in args) + "]"
    if origin is typing.Literal:
        if all(type(a) in _LITERAL_VALUES for a in args):
            return "Literal[" + ", ".join(repr(a) for a in args) + "]"
        return "Any"
    if origin is not None:
        name = _class_name(origin)
        if not args:
            return name
        return f"{name}[" + ", ".join("..." if a is Ellipsis else describe(a) for a in args) + "]"
    if isinstance(tp, type):
        return _class_name(tp)
    return "Any"  # a forward reference, a TypeVar, ...


def _flyte_io(name: str) -> Any:
    import flyte_jupyter.io as fio

    return getattr(fio, name, Any)


def _find_class(text: str) -> Any:
    module_name, sep, qualname = text.partition(":")
    module = sys.modules.get(module_name) if sep else None
    obj: Any = module
    for part in qualname.split(".") if module is not None else ():
        obj = getattr(obj, part, None)
    return obj if isinstance(obj, type) else Any


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


def _read(node: ast.AST) -> Any:
    if isinstance(node, ast.Constant):
        if node.value is None:
            return _NONE
        if node.value is Ellipsis:
            return Ellipsis
        return _find_class(node.value) if isinstance(node.value, str) else Any
    if isinstance(node, (ast.Name, ast.Attribute)):
        name = _dotted(node)
        if name in _NAMES:
            return _NAMES[name]
        if name in _DOTTED:
            return _DOTTED[name]
        if name.startswith("flyte.io.") and name[len("flyte.io."):] in _FLYTE_IO:
            return _flyte_io(name[len("flyte.io."):])
        return Any
    if isinstance(node, ast.Subscript):
        base = _dotted(node.value)
        elts = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        if base == "Literal":
            try:
                values = tuple(ast.literal_eval(e) for e in elts)
            except ValueError:
                return Any
            return typing.Literal[values]  # type: ignore[valid-type]
        args = [_read(e) for e in elts]
        if base == "Optional" and len(args) == 1:
            return typing.Optional[args[0]]
        if base == "Union":
            return typing.Union[tuple(args)]  # type: ignore[valid-type]
        origin = _NAMES.get(base)
        if origin in (list, dict, set, frozenset, tuple):
            try:
                return origin[args[0] if len(args) == 1 else tuple(args)]
            except TypeError:
                return origin
        return Any
    return Any


def resolve(text: str) -> Any:
    """The Python type of an expression `describe` wrote; `Any` where a part is unknown here."""
    if not text or len(text) > 4096:
        return Any
    try:
        tree = ast.parse(text, mode="eval")
    except (SyntaxError, ValueError, RecursionError):
        return Any
    try:
        return _read(tree.body)
    except (RecursionError, TypeError):
        return Any


__all__ = ["describe", "resolve"]
