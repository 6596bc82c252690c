"""A batch of action state changes committed to PostgreSQL through libpq's pipeline directly.

The hot write of a fan-out is a group commit of nothing but action upserts. Through psycopg's
Python layers each statement costs ~25-70 us of Python and each transaction ~0.3 ms (cursors,
adaptation, the pipeline's generators), all of it holding the GIL the backend's event loop needs.
Here the same transaction, BEGIN, one prepared upsert per row, COMMIT and a sync, goes to the
server in one round trip through psycopg's own libpq wrapper (`conn.pgconn`, public API), with
the parameters encoded by hand (our rows hold only str, int, float, bytes and None): about a third
of the CPU. Nothing changes for durability: `commit` returns only after COMMIT's own result came
back OK, and any error is raised (as a `psycopg.Error`) with the transaction left for the caller
to roll back.
"""

from __future__ import annotations

import select
from typing import Any, Sequence

_NAMES = (b"fj_put_action", b"fj_put_action_extras", b"fj_mark_run_done")


def _numbered(query: str) -> str:
    """`?` placeholders as PostgreSQL's `$1, $2, ...` (no query here has a literal `?`)."""
    parts = query.split("?")
    return "".join(p + (f"${i + 1}" if i < len(parts) - 1 else "") for i, p in enumerate(parts))


def _encode(row: Sequence[Any]) -> tuple[list[bytes | None], list[int]] | None:
    """A row's parameters as libpq wants them (text, bytes as binary); None for a value of another
    type or text that is not UTF-8, which the general path then reports properly."""
    values: list[bytes | None] = []
    formats: list[int] = []
    for v in row:
        if v is None:
            values.append(None)
            formats.append(0)
        elif isinstance(v, str):
            try:
                values.append(v.encode())
            except UnicodeEncodeError:
                return None
            formats.append(0)
        elif isinstance(v, bytes):
            values.append(v)
            formats.append(1)
        elif isinstance(v, int) and not isinstance(v, bool):
            values.append(b"%d" % v)
            formats.append(0)
        elif isinstance(v, float):
            values.append(repr(v).encode())
            formats.append(0)
        else:
            return None
    return values, formats


class ActionPipeline:
    """Commits action rows on one connection (the store's writer's), its statements prepared once."""

    def __init__(self, queries: Sequence[str]) -> None:
        self._queries = [_numbered(q) for q in queries]  # upsert action, upsert extras, mark run done
        self._prepared_on: Any = None  # the connection the statements are prepared on

    def commit(self, conn: Any, rows: list[tuple], extras: list[tuple], done_runs: list[tuple]) -> bool:
        """BEGIN, the rows, COMMIT in one round trip; False when a value needs the general path."""
        encoded = []
        for name, batch in zip(_NAMES, (rows, extras, done_runs)):
            for row in batch:
                params = _encode(row)
                if params is None:
                    return False
                encoded.append((name, params))
        # The writer thread is this connection's only user, and it is idle (autocommit, no
        # transaction) between batches: nothing else can be in flight on it.
        if self._prepared_on is not conn:
            for name, query in zip(_NAMES, self._queries):
                conn.execute(f"PREPARE {name.decode()} AS {query}")  # session-wide, outside transactions
            self._prepared_on = conn
        self._send_and_wait(conn, encoded)
        return True

    @staticmethod
    def _send_and_wait(conn: Any, encoded: list[tuple[bytes, tuple[list[bytes | None], list[int]]]]) -> None:
        import psycopg
        from psycopg import pq

        pgconn = conn.pgconn
        pgconn.enter_pipeline_mode()
        try:
            pgconn.send_query_params(b"BEGIN", None)
            for name, (values, formats) in encoded:
                pgconn.send_query_prepared(name, values, formats)
            pgconn.send_query_params(b"COMMIT", None)
            pgconn.pipeline_sync()
            poller = select.poll()
            fd = pgconn.socket
            # Send everything, reading meanwhile: the server answers as it goes and would stop
            # reading once its own output is not read.
            while pgconn.flush():
                poller.register(fd, select.POLLIN | select.POLLOUT)
                if any(ev & select.POLLIN for _, ev in poller.poll()):
                    pgconn.consume_input()
            poller.register(fd, select.POLLIN)
            error = None
            committed = False
            while True:
                while pgconn.is_busy():
                    poller.poll()
                    pgconn.consume_input()
                res = pgconn.get_result()
                if res is None:  # the end of one statement's results
                    continue
                if res.status == pq.ExecStatus.PIPELINE_SYNC:
                    break
                if res.status == pq.ExecStatus.FATAL_ERROR and error is None:
                    error = res.error_message
                elif res.status == pq.ExecStatus.COMMAND_OK and res.command_status == b"COMMIT":
                    committed = True
        finally:
            try:
                if pgconn.pipeline_status != pq.PipelineStatus.OFF:
                    pgconn.exit_pipeline_mode()
            except psycopg.Error:  # results left unread (the connection broke): it is of no more use
                conn.close()
        if error is not None or not committed:
            message = error.decode(errors="replace").strip() if error else "the transaction was rolled back"
            raise psycopg.DatabaseError(f"the batch of action writes did not commit: {message}")
