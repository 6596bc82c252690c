"""Content hashes of literal maps that ignore argument order and dict insertion order.

A File, Dir or DataFrame reference that carries a hash (a cache key the user gave or computed
with `flyte.io.HashFunction`) counts by that hash alone, not by its path, as in Flyte: the same
content uploaded to another place is the same input."""

from __future__ import annotations

import hashlib

from flyte_jupyter._internal.types.core import _L
from flyte_jupyter._internal.wire.proto import literals_pb2 as pb


def _canon(lit: pb.Literal) -> bytes:
    """Canonical bytes of a literal: like its deterministic serialization, but with dict entries
    sorted, so equal dicts hash equally whatever their insertion order."""
    k = lit.WhichOneof("value")
    if k == "map":
        m = lit.map
        keys = [_L(str=x).SerializeToString() for x in m.keys] if m.keys else [_canon(x) for x in m.key_literals]
        entries = sorted(zip(keys, (_canon(v) for v in m.values)))
        return b"M" + b"".join(_frame(a) + _frame(b) for a, b in entries)
    if k == "collection":
        return b"C" + b"".join(_frame(_canon(x)) for x in lit.collection.items)
    if k == "record":
        r = lit.record
        return b"R" + _frame(r.type_name.encode()) + b"".join(
            _frame(n.encode()) + _frame(_canon(v)) for n, v in zip(r.names, r.values)
        )
    if k == "union":
        return b"U" + _frame(lit.union.tag.encode()) + _frame(_canon(lit.union.value))
    if k == "blob" and lit.blob.hash:
        return b"H" + _frame(lit.blob.hash.encode())
    if k == "dataframe" and lit.dataframe.hash:
        return b"H" + _frame(lit.dataframe.hash.encode())
    return lit.SerializeToString(deterministic=True)


def _frame(b: bytes) -> bytes:
    return len(b).to_bytes(8, "little") + b


def literal_map_hash(lm: pb.LiteralMap) -> str:
    """sha256 (hex) of the canonical content of a LiteralMap: equal values give equal hashes,
    independent of argument order and of dict insertion order (cache keys, child names)."""
    h = hashlib.sha256()
    lits = lm.literals
    for n in sorted(lits):
        h.update(_frame(n.encode()))
        h.update(_frame(_canon(lits[n])))
    return h.hexdigest()
