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
    except TypeError:  # unhashable annotation (e.g. Annotated with a dict): build uncached
        with _BUILD_LOCK:
            return _build(tp)
    with _BUILD_LOCK:
        c = _CACHE.get(tp)
        if c is None:
            c = _build(tp)
            if len(_CACHE) >= _CACHE_MAX:  # e.g. a notebook re-defining classes all day
                _CACHE.clear()
            _CACHE[tp] = c
        return c


# The dispatcher (type -> builder) imports every builder, and every builder imports this module,
# so the dispatcher registers itself here when the package loads instead of being imported.
_DISPATCHER: list[Callable[[Any], _Conv]] = []


def register_dispatcher(build: Callable[[Any], _Conv]) -> None:
    """Install the function that builds a converter for a type not yet in the cache."""
    _DISPATCHER[:] = [build]


def _build(tp: Any) -> _Conv:
    return _DISPATCHER[0](tp)
