"""The image cache: spec hash -> built reference, and its compact form for `--image-cache`.

Kept in one small SQLite file under the user's data directory so that the client (which builds) and
the embedded backend (which runs actions) on the same machine read the same answers, and so that two
processes recording builds at once never corrupt it (SQLite transactions are atomic).

A reference is what a builder produced: for the local builder the absolute path of a virtualenv,
for the Docker builder an image URI. Entries are per builder, since one spec built by two builders
gives two different references.

The `--image-cache` argument of the entrypoint carries a mapping `Image.identifier -> reference`
(see `_image.py` for why the identifier and not the content key): JSON, zlib, URL-safe base64 without
padding, so it survives a command line and a URL untouched.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import json
import os
import time
import zlib
from pathlib import Path
from typing import Any, Dict, Iterator, List, Mapping, Optional, Union

ENV_HOME = "FLYTE_JUPYTER_IMAGE_HOME"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS images (
    builder TEXT NOT NULL,
    key TEXT NOT NULL,
    reference TEXT NOT NULL,
    spec TEXT NOT NULL,
    builds INTEGER NOT NULL DEFAULT 1,
    created_at REAL NOT NULL,
    last_used REAL NOT NULL,
    PRIMARY KEY (builder, key)
);
"""


def images_home() -> Path:
    """Root of everything image-related: `$FLYTE_JUPYTER_IMAGE_HOME`, else `<data dir>/images`
    (the data dir is `$FLYTE_JUPYTER_DATA_DIR` or the platform's user data directory).

    Its own variable exists so builds can be shared across data dirs (tests, CI, many backends)."""
    env = os.environ.get(ENV_HOME)
    if env:
        return Path(env).expanduser()
    from flyte_jupyter._config import data_dir

    return data_dir() / "images"


@dataclasses.dataclass(frozen=True)
class CacheEntry:
    """One recorded build."""

    builder: str
    key: str
    reference: str
    spec: Dict[str, Any]
    builds: int
    created_at: float
    last_used: float


class ImageCache:
    """Spec hash -> reference, per builder, in `<images_home>/cache.sqlite` (or `path`)."""

    def __init__(self, path: Union[str, Path, None] = None) -> None:
        self.path = Path(path) if path is not None else images_home() / "cache.sqlite"

    @contextlib.contextmanager
    def _db(self) -> Iterator[Any]:
        import sqlite3

        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(self.path), timeout=30.0, isolation_level=None)
        try:
            conn.execute("PRAGMA busy_timeout=30000")
            conn.executescript(_SCHEMA)
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        finally:
            conn.close()

    def get(self, key: str, builder: str, *, touch: bool = True) -> Optional[str]:
        """The reference built for `key` by `builder`, or None; a hit updates `last_used`."""
        with self._db() as db:
            row = db.execute("SELECT reference FROM images WHERE builder=? AND key=?", (builder, key)).fetchone()
            if row and touch:
                db.execute("UPDATE images SET last_used=? WHERE builder=? AND key=?", (time.time(), builder, key))
        return row[0] if row else None

    def record_build(self, key: str, builder: str, reference: str, spec: Mapping[str, Any]) -> None:
        """Remember a finished build; a rebuild of the same key counts up `builds`."""
        now = time.time()
        text = json.dumps(spec, sort_keys=True)
        with self._db() as db:
            db.execute(
                "INSERT INTO images (builder, key, reference, spec, builds, created_at, last_used) "
                "VALUES (?, ?, ?, ?, 1, ?, ?) ON CONFLICT(builder, key) DO UPDATE SET "
                "reference=excluded.reference, spec=excluded.spec, builds=images.builds+1, "
                "created_at=excluded.created_at, last_used=excluded.last_used",
                (builder, key, reference, text, now, now),
            )

    def remove(self, key: str, builder: str) -> bool:
        with self._db() as db:
            cur = db.execute("DELETE FROM images WHERE builder=? AND key=?", (builder, key))
            return cur.rowcount > 0

    def entries(self, builder: Optional[str] = None) -> List[CacheEntry]:
        """Every recorded build, most recently used first."""
        sql = "SELECT builder, key, reference, spec, builds, created_at, last_used FROM images"
        args: tuple = ()
        if builder:
            sql += " WHERE builder=?"
            args = (builder,)
        with self._db() as db:
            rows = db.execute(sql + " ORDER BY last_used DESC", args).fetchall()
        return [CacheEntry(r[0], r[1], r[2], json.loads(r[3]), r[4], r[5], r[6]) for r in rows]

    def build_count(self, key: Optional[str] = None, builder: Optional[str] = None) -> int:
        """How many builds were recorded (for one key/builder, or in total)."""
        return sum(e.builds for e in self.entries(builder) if key is None or e.key == key)


def encode_image_cache(mapping: Mapping[str, str]) -> str:
    """`{identifier: reference}` -> compact URL-safe text for the entrypoint's `--image-cache`;
    an empty mapping (every environment "auto") is the empty string, so no argument is needed."""
    if not mapping:
        return ""
    text = json.dumps(dict(mapping), sort_keys=True, separators=(",", ":"))
    return base64.urlsafe_b64encode(zlib.compress(text.encode(), 9)).decode().rstrip("=")


def decode_image_cache(value: Optional[str]) -> Dict[str, str]:
    """Inverse of `encode_image_cache`; an empty value is an empty mapping."""
    if not value:
        return {}
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
        data = json.loads(zlib.decompress(raw).decode())
    except (ValueError, zlib.error) as exc:
        raise ValueError(f"--image-cache value is not an encoded image cache ({exc})") from None
    if not isinstance(data, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in data.items()):
        raise ValueError("--image-cache value does not hold a mapping of identifiers to references")
    return data
