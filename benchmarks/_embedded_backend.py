"""The backend a benchmark measures: an embedded one in a temporary data dir on a free loopback
port, the SDK pointed at it, stopped (and the SDK back in local mode) when the block ends."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterator
from unittest import mock

import flyte_jupyter as flyte


@contextlib.contextmanager
def embedded_backend(prefix: str, extra_args: Callable[[Path], list[str]] | None = None) -> Iterator[Any]:
    """Yields the backend's info (`client_yaml`, `pid`); `extra_args(data_dir)` gives more flags
    (it may write a config file into the temporary dir first)."""
    from flyte_jupyter._internal.client import embedded as _embedded

    # The variable is put back as the block ends: local-mode work measured afterwards would otherwise
    # write its cache into the removed temporary dir (and leave it behind again).
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp, mock.patch.dict(os.environ, FLYTE_JUPYTER_DATA_DIR=tmp):
        backend = Path(tmp) / "backend"
        info = _embedded.start_backend(backend, port=0, extra_args=extra_args(Path(tmp)) if extra_args else None)
        try:
            flyte.init_from_config(str(info.client_yaml))
            yield info
        finally:
            _embedded.stop_backend(backend)
            flyte.init()
