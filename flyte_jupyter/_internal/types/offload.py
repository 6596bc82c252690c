"""Large literals and local File/Dir paths moved to storage, and offloaded values read back."""

from __future__ import annotations

import hashlib

from flyte_jupyter._internal.types.core import _L
from flyte_jupyter._internal.wire.proto import literals_pb2 as pb

_MiB = 1024 * 1024


class Offloader:
    """Moves big literals (and bare local paths behind io.File/io.Dir values) to storage.

    A literal whose serialized size exceeds `max_inline_bytes` is written once, content-addressed,
    under `prefix_uri` and replaced by an `offloaded` reference; the backend database and gRPC
    messages then stay small. `from_literal` reads offloaded values back without an Offloader.
    Note: an offloaded dict is hashed (literal_map_hash) by its stored bytes, which follow the
    dict's insertion order; inline values hash independently of it.
    """

    def __init__(self, prefix_uri: str, max_inline_bytes: int = 10 * _MiB):
        from flyte_jupyter._internal.runtime import storage as _storage

        self.prefix_uri = _storage.to_uri(prefix_uri)
        self.max_inline_bytes = int(max_inline_bytes)

    def offload(self, lit: pb.Literal) -> pb.Literal:
        """Store `lit` and return the reference that replaces it."""
        from flyte_jupyter._internal.runtime import storage as _storage

        data = lit.SerializeToString(deterministic=True)
        digest = hashlib.sha256(data).hexdigest()
        uri = _storage.join(self.prefix_uri, "values", f"{digest}.pb")
        if not _storage.exists(uri):
            _storage.put_bytes(uri, data)
        return _L(offloaded=pb.Offloaded(uri=uri, size=len(data), sha256=digest))

    def upload(self, local: str, *, is_dir: bool, name: str) -> str:
        """Copy a local file or directory under the prefix; returns its URI."""
        from flyte_jupyter._internal.runtime import storage as _storage

        if is_dir:
            import uuid

            key = uuid.uuid4().hex
            return _storage.upload_dir(local, _storage.join(self.prefix_uri, "dirs", key, name or "dir"))
        digest = _file_sha256(local)
        uri = _storage.join(self.prefix_uri, "files", digest, name or "file")
        if not _storage.exists(uri):
            _storage.upload_file(local, uri)
        return uri

    def __repr__(self) -> str:
        return f"Offloader({self.prefix_uri!r}, max_inline_bytes={self.max_inline_bytes})"


def _file_sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _fetch(ref: pb.Offloaded) -> pb.Literal:
    from flyte_jupyter._internal.runtime import storage as _storage

    try:
        data = _storage.get_bytes(ref.uri)
    except FileNotFoundError:
        raise FileNotFoundError(
            f"offloaded value {ref.uri} is missing from storage; was the data directory cleaned up?"
        ) from None
    if ref.sha256 and hashlib.sha256(data).hexdigest() != ref.sha256:
        raise ValueError(f"offloaded value {ref.uri} does not match its sha256 {ref.sha256}: storage is corrupt")
    return _L.FromString(data)


# Literal kinds that can be large enough to offload (scalars never are).
_HEAVY = frozenset(
    {"str", "bytes", "collection", "ints", "floats", "strs", "map", "record", "pickle", "union", "big_int"}
)
