"""DeleteRun's data side: what a finished run left in storage and on the backend's disk.

Deleted: everything under the run's storage folder (`runs/P/D/RUN/`: inputs, every attempt's
outputs, errors and reports), its default raw-data folder (`raw/RUN/`), and the local plugin's logs
and working directories of its attempts. Kept: an attempt's output folder that the task cache
points at (other runs read it as a cache hit; `cache clear` drops the entry, the folder stays),
a raw-data path the run was given by its creator (not the backend's to delete), and code bundles
(content-addressed, shared between runs).
"""

from __future__ import annotations

import os
import shutil
from typing import Iterable

from flyte_jupyter._internal.runtime import storage as _storage


def run_folders(storage_root: str, data_dir: str, project: str, domain: str, run: str) -> tuple[str, list[str], list[str]]:
    """(the run's storage folder, other storage folders, local directories) a delete removes."""
    folder = _storage.join(storage_root, "runs", project, domain, run)
    local = [os.path.join(data_dir, "logs", project, domain, run), os.path.join(data_dir, "work", project, domain, run)]
    return folder, [_storage.join(storage_root, "raw", run)], local


def delete_run_data(folder: str, others: Iterable[str], local: Iterable[str], keep: set[str]) -> list[str]:
    """Remove the run's data; returns what stayed (the folders in `keep`, and any that could not be
    removed). Blocking: run it in a thread."""
    kept: list[str] = []
    keep = {k.rstrip("/") for k in keep}
    for child in _children(folder):
        if child.rstrip("/") in keep:
            kept.append(child)
        elif not _remove(child):
            kept.append(child)
    if not any(k.startswith(folder.rstrip("/") + "/") for k in keep):
        _remove(folder)
    for uri in others:
        if not _remove(uri):
            kept.append(uri)
    for path in local:
        shutil.rmtree(path, ignore_errors=True)
    return kept


def _children(folder: str) -> list[str]:
    try:
        if _storage.is_local(folder):
            path = _storage.local_path(folder)
            return [_storage.join(folder, name) for name in sorted(os.listdir(path))]
        fs, path = _storage.filesystem(folder)
        return [_storage.join(folder, os.path.basename(p.rstrip("/"))) for p in fs.ls(path, detail=False)]
    except (FileNotFoundError, NotADirectoryError):
        return []


def _remove(uri: str) -> bool:
    """Remove a file or folder; True when it is gone (or never was)."""
    try:
        if _storage.is_local(uri):
            path = _storage.local_path(uri)
            if os.path.isdir(path):
                shutil.rmtree(path)
            elif os.path.lexists(path):
                os.unlink(path)
            return True
        fs, path = _storage.filesystem(uri)
        if fs.exists(path):
            fs.rm(path, recursive=True)
        return True
    except FileNotFoundError:
        return True
    except Exception:  # noqa: BLE001 - a store that refuses: reported as kept, the records go anyway
        return False
