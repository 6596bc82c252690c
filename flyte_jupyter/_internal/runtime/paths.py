"""Where this machine keeps flyte-jupyter's local state: one data directory (cache, local runs, the
embedded backend's database, storage and logs), overridable with $FLYTE_JUPYTER_DATA_DIR."""

from __future__ import annotations

import os
from pathlib import Path

DATA_DIR_ENV = "FLYTE_JUPYTER_DATA_DIR"


def data_dir() -> Path:
    """Where local state lives (cache, local runs, the embedded backend): overridable for tests."""
    override = os.environ.get(DATA_DIR_ENV)
    if override:
        path = Path(override)
    else:
        import platformdirs

        path = Path(platformdirs.user_data_dir("flyte-jupyter", appauthor=False))
    path.mkdir(parents=True, exist_ok=True)
    return path


def embedded_backend_dir() -> Path:
    """The embedded backend's own data directory (its database, storage, logs, client.yaml)."""
    return data_dir() / "backend"
