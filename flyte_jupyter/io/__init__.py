"""Offloaded data types: `File` and `Dir` (Flyte 2's `flyte.io`).

A task passes a reference to data in storage instead of the data itself; the receiving task
reads it when it opens or downloads it.
"""

from flyte_jupyter.io._dir import Dir
from flyte_jupyter.io._file import File

__all__ = ["Dir", "File"]
