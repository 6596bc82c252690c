"""Converter objects and their per-type cache.

The Python type of a parameter is turned once into a `_Conv` (an encoder and a decoder) and
cached, so encoding a couple of primitive arguments costs a few microseconds.
"""

from __future__ import annotations

import threading
from typing import Any, Callable

from flyte_jupyter._internal.wire.proto import literals_pb2 as pb

_L = pb.Literal
_NONE = _L(none=True)
_NoneType = type(None)


def _unbuilt(*_args: Any, **_kwargs: Any) -> Any:
    raise RuntimeError("type converter used before it was built (a builder did not set enc/dec)")


class _Conv:
    """Encoder and decoder for one Python type. Containers hold their children's _Conv objects
    (not their functions) so that a recursive type can refer to itself while being built."""

    __slots__ = ("tp", "enc", "dec")

    def __init__(self, tp: Any, enc: Callable[..., Any] | None = None, dec: Callable[..., Any] | None = None):
        self.tp = tp
        # A builder creates the _Conv first (so a recursive type can refer to it) and sets enc/dec
        # when its children are built; until then calling either is a bug, reported clearly.
        self.enc: Callable[..., Any] = enc if enc is not None else _unbuilt
        self.dec: Callable[..., Any] = dec if dec is not None else _unbuilt


_CACHE: dict[Any, _Conv] = {}
_CACHE_MAX = 4096
_BUILD_LOCK = threading.RLock()
_CACHE_PENDING: dict[Any, _Conv] = {}  # types being built: a field may refer back to its record


def _conv(tp: Any) -> _Conv:
    try:
        return _CACHE[tp]
    except KeyError:
        pass
    except TypeError:  # unhashable annotation (e.g. Annotated with a dict): cached by identity
        return _conv_unhashable(tp)
    with _BUILD_LOCK:
        c = _CACHE.get(tp)
        if c is None:
            c = _build(tp)
            if len(_CACHE) >= _CACHE_MAX:  # e.g. a notebook re-defining classes all day
                _CACHE.clear()
            _CACHE[tp] = c
        return c


# Unhashable annotations (Annotated[X, {...}]) by id, holding the annotation so the id stays its own.
_BY_ID: dict[int, tuple[Any, _Conv]] = {}


def _conv_unhashable(tp: Any) -> _Conv:
    hit = _BY_ID.get(id(tp))
    if hit is not None and hit[0] is tp:
        return hit[1]
    with _BUILD_LOCK:
        c = _build(tp)
        if len(_BY_ID) >= _CACHE_MAX:
            _BY_ID.clear()
        _BY_ID[id(tp)] = (tp, c)
        return c


# The dispatcher (type -> builder) imports every builder, and every builder imports this module,
# so the dispatcher registers itself here when the package loads instead of being imported.
_DISPATCHER: list[Callable[[Any], _Conv]] = []


def register_dispatcher(build: Callable[[Any], _Conv]) -> None:
    """Install the function that builds a converter for a type not yet in the cache."""
    _DISPATCHER[:] = [build]


def _build(tp: Any) -> _Conv:
    return _DISPATCHER[0](tp)


# How many values encoders have converted rather than taken as given (a dict for a dataclass or a
# pydantic model, an enum's value for a Literal of members, a data frame read with declared
# columns). `to_literal_map` compares it before and after each value: when it moved, the caller's
# value is replaced by the decoded literal, so a local run hands a task what a remote one would.
# A plain counter (no lock): a concurrent increment can only cause one needless decode.
_COERCIONS = [0]


class _Converting(threading.local):
    """Whether this thread's encoding may convert values (see `to_literal(convert=)`)."""

    on = False


_CONVERTING = _Converting()


def note_coercion() -> None:
    """Called by an encoder that converted its value into the declared type."""
    _COERCIONS[0] += 1
