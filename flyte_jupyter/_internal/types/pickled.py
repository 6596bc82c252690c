"""The cloudpickle fallback for values without a typed literal form (cloudpickle imported lazily)."""

from __future__ import annotations

from typing import Any

from flyte_jupyter._internal.types.core import _L
from flyte_jupyter._internal.wire.proto import literals_pb2 as pb


def _pickle(v: Any) -> pb.Literal:
    import cloudpickle

    return _L(pickle=cloudpickle.dumps(v))


def _unpickle(data: bytes) -> Any:
    import pickle

    return pickle.loads(data)
