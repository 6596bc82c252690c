"""Typed values on the wire: Python values <-> `literals.proto` Literals.

Every task input and output crosses this package, locally (the cache key and the child action name
hash the inputs) and remotely (inputs.pb / outputs.pb). So it is built for speed: the Python type
of a parameter is turned once into a converter (an encoder and a decoder, cached per type), and a
call for a couple of primitive arguments costs a few microseconds. cloudpickle, fsspec and
pydantic are imported only when a value needs them.

What goes where:
  int, float, str, bool, bytes, None, datetime, date, timedelta -> scalar fields
  list / set / tuple -> a collection (list[int], list[float], list[str] packed)
  dict -> a map that keeps insertion order
  dataclass, pydantic model, NamedTuple, TypedDict -> a record of named fields
  Enum -> its member name; io.File / io.Dir -> a blob reference
  io.DataFrame, pandas.DataFrame, pyarrow.Table, polars.DataFrame -> a DataFrameRef: parquet in
           storage (written content-addressed on encoding), read back as the declared type
  Union -> the member's literal (tagged with the member index when there are two or more
           non-None members)
  any other class -> cloudpickle (after an isinstance check)
  typing.Any / no annotation -> exact int, float, str, bool, bytes, None as scalars (cheap and
           readable by any reader), everything else cloudpickle
A value whose literal is bigger than the Offloader's `max_inline_bytes` is written to storage and
replaced by an `offloaded` reference, which `from_literal` follows transparently.
Task arguments are converted as Flyte converts them (`to_literal_map`, or `to_literal(convert=True)`):
a dict for a dataclass or pydantic model, an enum member's value for a Literal of members; the
converted value replaces the caller's in the map, so a local run's task gets what a remote one would.
A File / Dir / DataFrame with a hash counts by its hash in input hashes (cache keys, child names).

Modules: encode / decode (the API), dispatch (type -> converter; it registers itself with core, so
core never imports it back), core (converter cache), scalars, datetimes, containers, unions,
records, enums, blobs, dataframes, untyped (untyped values and pickled classes), pickled, fallback (literals of
an unexpected kind), offload, hashing, errors; input_words (task inputs from `--name value` words).
"""

from __future__ import annotations

from flyte_jupyter._internal.types import dispatch as _dispatch  # noqa: F401 - load every converter builder with the package (zygote preload)
from flyte_jupyter._internal.types.core import _conv  # noqa: F401 - one converter per type; tests check the cache
from flyte_jupyter._internal.types.decode import (
    decode_inputs,
    from_literal,
    from_literal_map,
)
from flyte_jupyter._internal.types.encode import (
    encode_inputs,
    to_literal,
    to_literal_map,
)
from flyte_jupyter._internal.types.hashing import literal_map_hash
from flyte_jupyter._internal.types.offload import Offloader
from flyte_jupyter.errors import TypeMismatchError

__all__ = [
    "TypeMismatchError",
    "Offloader",
    "to_literal",
    "from_literal",
    "to_literal_map",
    "from_literal_map",
    "literal_map_hash",
    "encode_inputs",
    "decode_inputs",
]
