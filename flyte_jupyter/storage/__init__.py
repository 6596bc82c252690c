"""`flyte.storage`: reading and writing data by path, local or in an object store (Flyte 2's API).

The functions take paths (`/tmp/x`, `file:///...`, `s3://bucket/key`, `gs://...`) and work over
fsspec, with local paths handled directly. As in Flyte, `get`, `put`, `exists`, `open`,
`put_stream` and `get_stream` are coroutines (await them in async code); `exists_sync` is the sync
form of `exists`. A `put` without `to_path` lands under the raw data prefix in effect: the running
task's, else the client's (`flyte.init(raw_data_path=...)`), else the local data directory.

`S3`, `GCS` and `ABFS` describe object-store credentials; `flyte.init(storage=S3(...))` makes these
functions use them. The backend's own storage is configured on the backend.

Where we differ: `open()` also works on local paths (Flyte raises OnlyAsyncIOSupportedError there).
"""

from __future__ import annotations

from flyte_jupyter.storage._config import ABFS, GCS, S3, Storage, configure, configured
from flyte_jupyter.storage._storage import (
    exists,
    exists_sync,
    get,
    get_configured_fsspec_kwargs,
    get_random_local_directory,
    get_random_local_path,
    get_stream,
    get_underlying_filesystem,
    is_remote,
    join,
    open,
    put,
    put_stream,
)

__all__ = [
    "ABFS",
    "GCS",
    "S3",
    "Storage",
    "configure",
    "configured",
    "exists",
    "exists_sync",
    "get",
    "get_configured_fsspec_kwargs",
    "get_random_local_directory",
    "get_random_local_path",
    "get_stream",
    "get_underlying_filesystem",
    "is_remote",
    "join",
    "open",
    "put",
    "put_stream",
]
