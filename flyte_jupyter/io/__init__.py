"""Offloaded data types: `File`, `Dir` and `DataFrame` (Flyte 2's `flyte.io`), and `HashFunction`
for their cache keys.

A task passes a reference to data in storage instead of the data itself; the receiving task
reads it when it opens or downloads it.
"""

from flyte_jupyter.io._dataframe import PARQUET, DataFrame
from flyte_jupyter.io._dir import Dir, EmptyDir
from flyte_jupyter.io._file import File
from flyte_jupyter.io._hashing import HashFunction, HashMethod

__all__ = ["PARQUET", "DataFrame", "Dir", "EmptyDir", "File", "HashFunction", "HashMethod"]
