"""What the parts of one nested call cost on this machine, without any of flyte-jupyter's code: the
floor under the chain and fan-out figures of `remote_fanout.py` (issue 15).

    python benchmarks/rpc_floor.py [--calls 2000]

Measures, each in CPU per operation (user + system, from /proc and os.times) and wall time:
  - an empty unary call over grpc.aio on loopback, client and server in two processes (what a
    nested call's EnqueueActions costs before any work is done);
  - a server-streaming call opened, one message received, then cancelled (what a nested call's
    watch for its child's end costs);
  - one more message on a stream already open (what each phase change costs each watcher);
  - a one-row upsert committed in SQLite in WAL mode with synchronous=NORMAL (the store's setting),
    the unit of the three durable state changes an action makes (batched when many land at once);
  - a line sent to another process over a Unix socket and answered, asyncio streams on both ends
    (what a warm worker's link costs per request, `_internal/controllers/remote/link.py`): the
    price of waking another process, which every hop of a nested call pays;
  - a callback handed to an event loop in another thread and answered the same way
    (`call_soon_threadsafe` both ways: an action's loop and the controllers' loop in one worker).
Byte payloads with no serialization: these are the transport's and the database's own costs.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import subprocess
import sys
import tempfile
import time

SERVER = r"""
import asyncio, sys
import grpc

async def unary(request, context):
    return b""

async def stream(request, context):
    yield b"x" * 64
    await asyncio.sleep(3600)  # held open until the client cancels, as a watch is

async def many(request, context):
    for _ in range(int(request)):
        yield b"x" * 300  # about one Action message

async def main():
    server = grpc.aio.server()
    handlers = {"Unary": grpc.unary_unary_rpc_method_handler(unary),
                "Stream": grpc.unary_stream_rpc_method_handler(stream),
                "Many": grpc.unary_stream_rpc_method_handler(many)}
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("floor.Floor", handlers),))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    print(port, flush=True)
    await server.wait_for_termination()

asyncio.run(main())
"""

ECHO = r"""
import asyncio, socket, sys

async def main():
    reader, writer = await asyncio.open_unix_connection(sock=socket.socket(fileno=int(sys.argv[1])))
    while line := await reader.readline():
        writer.write(line)

asyncio.run(main())
"""

TICK = os.sysconf("SC_CLK_TCK")


def _cpu_of(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def _own_cpu() -> float:
    t = os.times()
    return t.user + t.system


async def _grpc(port: int, calls: int, server_pid: int) -> dict[str, tuple[float, float, float]]:
    import grpc

    out: dict[str, tuple[float, float, float]] = {}
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        unary = channel.unary_unary("/floor.Floor/Unary")
        stream = channel.unary_stream("/floor.Floor/Stream")
        for _ in range(200):  # warm-up: the connection, the server's handlers
            await unary(b"")

        async def one_stream() -> None:
            call = stream(b"")
            await call.read()
            call.cancel()

        for name, op in (("unary call", lambda: unary(b"")), ("stream: open, 1 message, cancel", one_stream)):
            s0, c0, w0 = _cpu_of(server_pid), _own_cpu(), time.perf_counter()
            for _ in range(calls):
                await op()
            wall = time.perf_counter() - w0
            out[name] = ((_own_cpu() - c0) / calls, (_cpu_of(server_pid) - s0) / calls, wall / calls)
        # a change on a watch already open (each message written and read on its own, as a
        # watcher that keeps up receives them)
        s0, c0, w0 = _cpu_of(server_pid), _own_cpu(), time.perf_counter()
        async for _ in channel.unary_stream("/floor.Floor/Many")(str(calls).encode()):
            pass
        wall = time.perf_counter() - w0
        out["one more message on an open stream"] = ((_own_cpu() - c0) / calls, (_cpu_of(server_pid) - s0) / calls,
                                                     wall / calls)
    return out


async def _socket_round_trips(calls: int) -> tuple[float, float, float]:
    """A line to another process and its answer: (client CPU, server CPU, wall) per round trip."""
    import socket

    ours, theirs = socket.socketpair()
    echo = subprocess.Popen([sys.executable, "-c", ECHO, str(theirs.fileno())], pass_fds=(theirs.fileno(),))
    theirs.close()
    try:
        reader, writer = await asyncio.open_unix_connection(sock=ours)
        line = b'{"q": 1, "ok": "' + b"x" * 200 + b'"}\n'
        for _ in range(200):  # warm-up
            writer.write(line)
            await reader.readline()
        s0, c0, w0 = _cpu_of(echo.pid), _own_cpu(), time.perf_counter()
        for _ in range(calls):
            writer.write(line)
            await reader.readline()
        wall = time.perf_counter() - w0
        figure = ((_own_cpu() - c0) / calls, (_cpu_of(echo.pid) - s0) / calls, wall / calls)
        writer.close()
        return figure
    finally:
        echo.kill()
        echo.wait()


def _thread_round_trips(calls: int) -> tuple[float, float]:
    """A callback to another thread's event loop and one back: (CPU of both threads, wall) each."""
    import threading

    other = asyncio.new_event_loop()
    threading.Thread(target=other.run_forever, daemon=True).start()

    async def trips() -> float:
        here = asyncio.get_running_loop()
        w0 = time.perf_counter()
        for _ in range(calls):
            fut = here.create_future()
            other.call_soon_threadsafe(here.call_soon_threadsafe, fut.set_result, None)
            await fut
        return time.perf_counter() - w0

    try:
        c0 = _own_cpu()
        wall = asyncio.run(trips())
        return (_own_cpu() - c0) / calls, wall / calls
    finally:
        other.call_soon_threadsafe(other.stop)


def _sqlite(calls: int) -> tuple[float, float]:
    with tempfile.TemporaryDirectory(prefix="rpc-floor-") as tmp:
        conn = sqlite3.connect(os.path.join(tmp, "floor.db"), isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("CREATE TABLE actions (name TEXT PRIMARY KEY, phase INTEGER, blob BLOB)")
        blob = b"x" * 300
        c0, w0 = _own_cpu(), time.perf_counter()
        for i in range(calls):
            conn.execute("BEGIN")
            conn.execute("INSERT INTO actions VALUES (?, ?, ?) ON CONFLICT(name) DO UPDATE SET phase = excluded.phase",
                         (f"a{i % 500}", i % 7, blob))
            conn.execute("COMMIT")
        wall = time.perf_counter() - w0
        conn.close()
        return (_own_cpu() - c0) / calls, wall / calls


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args()
    server = subprocess.Popen([sys.executable, "-c", SERVER], stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        figures = asyncio.run(_grpc(port, args.calls, server.pid))
        figures["a line to another process and back"] = asyncio.run(_socket_round_trips(args.calls))
    finally:
        server.kill()
        server.wait()
    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f}, grpcio {__import__('grpc').__version__}, {args.calls} of each")
    print(f"{'operation':38} {'client CPU':>11} {'server CPU':>11} {'both':>8} {'wall':>8}")
    for name, (client, srv, wall) in figures.items():
        print(f"{name:38} {client * 1e3:8.3f} ms {srv * 1e3:8.3f} ms {(client + srv) * 1e3:5.2f} ms "
              f"{wall * 1e3:5.2f} ms")
    cpu, wall = _thread_round_trips(args.calls)
    print(f"{'a callback to another thread and back':38} {cpu * 1e3:8.3f} ms {'':>11} {cpu * 1e3:5.2f} ms {wall * 1e3:5.2f} ms")
    cpu, wall = _sqlite(args.calls)
    print(f"{'SQLite upsert + commit (WAL, NORMAL)':38} {cpu * 1e3:8.3f} ms {'':>11} {cpu * 1e3:5.2f} ms {wall * 1e3:5.2f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
