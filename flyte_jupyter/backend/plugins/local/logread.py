"""An attempt's stdout and stderr as one stream, in the order the process wrote them, with lines
still being written (a `\\r` progress bar) delivered before they end.

The attempt writes its two streams to two files (`ACTION-N.stdout`, `.stderr`). In a process the
fork server or a worker started, `attempt.OrderBook` also appends a record to `ACTION-N.order`
each time the process switches from one stream to the other: the new stream's tag and the byte
offset the other stream had reached (`"e1234\\n"`: from here on stderr; stdout had 1234 bytes).
`OrderedLogs` reads the three files and cuts the streams at those offsets, so a `print` after a
`logging` line comes after it. Bytes that no record orders (written below Python, e.g. by a C
library, to the stream not current) come out once their stream has been quiet for `QUIET`
seconds. Without an order file (a plain subprocess, an earlier backend's attempt) each stream's
lines come as they are read.

A line without its newline yet is sent as a *partial* line when it holds a `\\r` (a progress bar
redrawn in place) or its stream was quiet for `QUIET` seconds; the next line of the stream
continues it.
"""

from __future__ import annotations

import codecs
from typing import Any

from flyte_jupyter.backend.executor.plugin import LogLine

QUIET = 0.25
STREAMS = ("stdout", "stderr")
_TAGS = {"o": "stdout", "e": "stderr"}


class OrderedLogs:
    """Reads an attempt's logs incrementally; `poll` returns the lines ready now."""

    def __init__(self, paths: dict[str, str], order_path: str | None) -> None:
        self.paths = paths
        self.order_path = order_path
        self._read = {s: 0 for s in STREAMS}  # bytes read from each file
        self._buf = {s: b"" for s in STREAMS}  # read, not yet sent
        self._grew = {s: 0.0 for s in STREAMS}  # when a file last grew
        self._decoders: dict[str, Any] = {s: codecs.getincrementaldecoder("utf-8")(errors="replace") for s in STREAMS}
        self._order_read = 0
        self._order_rest = b""
        self._ordered = False  # an order file was seen
        self._current: str | None = None

    def poll(self, now: float, final: bool = False) -> list[LogLine]:
        """The lines ready at `now`; `final` (the attempt ended): everything left."""
        for stream in STREAMS:  # the data first, then the records that order it (written before it)
            self._take(stream, now)
        out: list[LogLine] = []
        for tag, other_end in self._records():
            self._ordered = True
            other = "stderr" if tag == "stdout" else "stdout"
            if other_end > self._read[other]:  # flushed after we read its file: read on
                self._take(other, now)
            sent = self._read[other] - len(self._buf[other])
            if other_end > sent:
                self._emit(other, other_end - sent, out, now, tail=True)
            self._current = tag
        for stream in STREAMS:
            quiet = final or now - self._grew[stream] >= QUIET
            if self._ordered and stream != self._current:
                if quiet:  # bytes no record orders: once they have settled
                    self._emit(stream, len(self._buf[stream]), out, now, tail=True)
                continue
            buf = self._buf[stream]
            cut = buf.rfind(b"\n") + 1
            tail = buf[cut:]
            if tail and (quiet or b"\r" in tail):
                self._emit(stream, len(buf), out, now, tail=True)
            elif cut:
                self._emit(stream, cut, out, now, tail=False)
        return out

    def _take(self, stream: str, now: float) -> None:
        data = _read_from(self.paths[stream], self._read[stream])
        if data:
            self._read[stream] += len(data)
            self._buf[stream] += data
            self._grew[stream] = now

    def _records(self) -> list[tuple[str, int]]:
        if self.order_path is None:
            return []
        data = _read_from(self.order_path, self._order_read)
        if not data:
            return []
        self._order_read += len(data)
        data = self._order_rest + data
        lines = data.split(b"\n")
        self._order_rest = lines.pop()
        out = []
        for line in lines:
            stream = _TAGS.get(line[:1].decode("ascii", "replace"))
            try:
                offset = int(line[1:])
            except ValueError:
                continue
            if stream is not None:
                out.append((stream, offset))
        return out

    def _emit(self, stream: str, n: int, out: list[LogLine], now: float, tail: bool) -> None:
        """Send the first `n` buffered bytes of `stream`: its whole lines, and with `tail` the
        rest as a partial line."""
        chunk, self._buf[stream] = self._buf[stream][:n], self._buf[stream][n:]
        if not chunk:
            return
        text = self._decoders[stream].decode(chunk)
        pieces = text.split("\n")
        rest = pieces.pop()
        out.extend(LogLine(stream, piece, now) for piece in pieces)
        if rest and tail:
            out.append(LogLine(stream, rest, now, partial=True))


def _read_from(path: str, offset: int) -> bytes:
    try:
        with open(path, "rb") as fh:
            if offset:
                fh.seek(offset)
            return fh.read()
    except OSError:
        return b""
