"""An attempt's result written by the backend itself, in the entrypoint's layout (`error.pb`,
`outputs.pb` under the attempt's outputs prefix): for plugins that run no entrypoint (sql) and for
a build step that refuses a spec. The executor then reads it as it reads any attempt's result."""

from __future__ import annotations

from flyte_jupyter._internal.runtime import storage as _storage
from flyte_jupyter._internal.wire.proto import common_pb2 as pb


def write_error(prefix: str, kind: str, message: str, *, retryable: bool = False, origin: str = "user") -> None:
    err = pb.ActionError(kind=kind, message=message, retryable=retryable, origin=origin)
    _storage.put_bytes(_storage.join(prefix, "error.pb"), err.SerializeToString())


def write_outputs(prefix: str, data: bytes) -> None:
    """`data` is a serialized LiteralMap (the value under "o0")."""
    _storage.put_bytes(_storage.join(prefix, "outputs.pb"), data)
