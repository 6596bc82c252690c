"""The io.File / io.Dir converter: a blob reference, with bare local paths uploaded when offloading."""

from __future__ import annotations

from typing import Any

from flyte_jupyter._internal.types.core import _L, _Conv
from flyte_jupyter._internal.types.errors import _Mismatch
from flyte_jupyter._internal.types.fallback import _wrong_kind
from flyte_jupyter._internal.wire.proto import literals_pb2 as pb


def _build_blob(tp: Any, cls: Any) -> _Conv:
    c = _Conv(tp)
    is_dir = cls._flyte_blob_kind == "dir"
    kind = pb.Blob.DIR if is_dir else pb.Blob.FILE

    def enc(v: Any, off: Any) -> pb.Literal:
        if not isinstance(v, cls):
            raise _Mismatch(tp, v)
        uri = v.path
        if off is not None:
            from flyte_jupyter._internal.runtime import storage as _storage

            if _storage.is_plain_path(uri):  # a bare local path means nothing to another process
                uri = off.upload(uri, is_dir=is_dir, name=v.name or "")
        return _L(blob=pb.Blob(uri=uri, kind=kind, name=v.name or "", format=v.format or "", hash=v.hash or ""))

    def dec(lit: pb.Literal) -> Any:
        if lit.WhichOneof("value") != "blob":
            return _wrong_kind(lit, c)
        b = lit.blob
        return cls(path=b.uri, name=b.name or None, format=b.format, hash=b.hash or None)

    c.enc, c.dec = enc, dec
    return c
