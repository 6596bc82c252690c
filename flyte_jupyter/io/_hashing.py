"""Cache keys for data: Flyte 2's `HashMethod` protocol and `HashFunction`.

A File, Dir or DataFrame normally enters a cache key (and a child action's name) by its reference:
the same path is the same input. A *hash* replaces that: a string the user computes from the data,
so equal content at another path is the same input, and a reference whose data was rewritten in
place is a new one. Pass `hash_method=` to `File.from_local` / `File.new_remote` /
`DataFrame.from_local` (or a `HashFunction` inside `Annotated[pd.DataFrame, ...]`), or a ready
string (`file_cache_key=`, `dir_cache_key=`, `hash_method="..."`).

Two kinds of hash method are accepted:
  * `HashFunction.from_fn(fn)`: `fn` gets the whole value at once (a file's bytes, a data frame
    object) and returns the key. The simplest form; a file is read into memory for it.
  * any object with `update(chunk)` and `result()` (a `HashMethod`, e.g. one wrapping
    `hashlib.sha256()`): fed the bytes in chunks as they are copied, so big files stream.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Protocol, runtime_checkable


@runtime_checkable
class HashMethod(Protocol):
    """What a hash method offers: `update(data)` for each piece, then `result()` the key."""

    def update(self, data: Any, /) -> None: ...

    def result(self) -> str: ...


class HashFunction:
    """A hash method from a function of the whole value: `HashFunction.from_fn(fn)`.

    `update(data)` computes `fn(data)` and keeps it; `result()` returns the last one, so a value
    must be given to `update` whole (flyte_jupyter always does). Example:

        HashFunction.from_fn(lambda df: str(pd.util.hash_pandas_object(df).sum()))
    """

    __slots__ = ("_fn", "_value")

    def __init__(self, fn: Callable[[Any], str]):
        if not callable(fn):
            raise TypeError(f"HashFunction needs a callable, got {type(fn).__name__}")
        self._fn = fn
        self._value: str | None = None

    @classmethod
    def from_fn(cls, fn: Callable[[Any], str]) -> HashFunction:
        """A HashFunction that calls `fn` on the whole value."""
        return cls(fn)

    def update(self, data: Any, /) -> None:
        self._value = self._fn(data)

    def result(self) -> str:
        if self._value is None:
            raise ValueError("HashFunction.result() called before update(): nothing was hashed yet")
        return str(self._value)

    def reset(self) -> None:
        self._value = None

    def __repr__(self) -> str:
        return f"HashFunction({getattr(self._fn, '__qualname__', self._fn)!r})"


def is_hash_method(value: Any) -> bool:
    """An object that can compute a hash (not a ready string key)."""
    return not isinstance(value, str) and callable(getattr(value, "update", None)) and callable(
        getattr(value, "result", None)
    )


def split_hash_arg(value: Any) -> tuple[str | None, Any]:
    """`hash_method=` as (ready key, method): a string is the key itself, an object computes one."""
    if value is None:
        return None, None
    if isinstance(value, str):
        return value, None
    if is_hash_method(value):
        return None, value
    raise TypeError(
        f"hash_method takes a string (the cache key) or a hash method such as "
        f"flyte.io.HashFunction.from_fn(fn), got {type(value).__name__}"
    )


def hash_value(method: Any, value: Any) -> str:
    """The key of one whole value (a data frame, a file's bytes)."""
    method.update(value)
    return str(method.result())


def hash_chunks(method: Any, chunks: Iterable[bytes]) -> str:
    """The key of a byte stream: a HashFunction sees it whole, other methods chunk by chunk."""
    if isinstance(method, HashFunction):
        return hash_value(method, b"".join(chunks))
    for chunk in chunks:
        method.update(chunk)
    return str(method.result())


class HashingWriter:
    """Wraps a writable file: every write also goes to the hash method; `result()` after close.

    Text written in text mode is hashed as UTF-8 (or the file's encoding). A HashFunction gets
    everything written, joined, once the file is closed."""

    def __init__(self, raw: Any, method: Any, on_result: Callable[[str], None]):
        self._raw = raw
        self._method = method
        self._whole: list[bytes] | None = [] if isinstance(method, HashFunction) else None
        self._on_result = on_result
        self._done = False

    def _feed(self, data: Any) -> None:
        if isinstance(data, str):
            data = data.encode(getattr(self._raw, "encoding", None) or "utf-8")
        b = bytes(data)
        if self._whole is not None:
            self._whole.append(b)
        else:
            self._method.update(b)

    def write(self, data: Any) -> Any:
        n = self._raw.write(data)
        self._feed(data)
        return n

    def writelines(self, lines: Iterable[Any]) -> None:
        for line in lines:
            self.write(line)

    def finish(self) -> None:
        """Compute the key (once) and hand it on."""
        if self._done:
            return
        self._done = True
        if self._whole is not None:
            key = hash_value(self._method, b"".join(self._whole))
        else:
            key = str(self._method.result())
        self._on_result(key)

    def close(self) -> None:
        try:
            self._raw.close()
        finally:
            self.finish()

    def __enter__(self) -> HashingWriter:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._raw, name)
