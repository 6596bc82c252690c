"""gRPC channels that reach a restarted server at once.

After a failed connect, grpc waits before it tries again (1 s, then 1.6 times longer each time, up
to two minutes) and meanwhile fails every call at once with UNAVAILABLE. A backend that was stopped
and started again on its port (`backend stop`/`start`, a replica's pod replaced behind its address)
would stay unreachable for the rest of that wait: measured here, 0.9 s after a 1.5 s outage, and
longer the longer the outage. A caller that finds its channel waiting like that opens a new one
instead; a new channel connects as the first call is made, so a server that is still down fails
that call at once (connection refused), and one that is back answers it. A call that is already in
flight is not retried here: whether it reached the server is unknown.

A new channel inherits that wait unless it has connections of its own: grpc shares connections
between the channels of a process that name the same address, and the shared one is still waiting.
So every channel made here keeps its own (`OWN_CONNECTIONS`); the callers already keep one channel per
address and loop, so nothing is shared that would have been.
"""

from __future__ import annotations

import asyncio

import grpc
import grpc.aio

#: The channel option that gives a channel connections of its own (see the module docstring).
OWN_CONNECTIONS = ("grpc.use_local_subchannel_pool", 1)

_closing: set[asyncio.Task] = set()


def in_backoff(channel: grpc.aio.Channel) -> bool:
    """Whether the channel's last connect failed and it is waiting to try again."""
    return channel.get_state(try_to_connect=False) is grpc.ChannelConnectivity.TRANSIENT_FAILURE


def retire(channel: grpc.aio.Channel) -> None:
    """Close a replaced channel on the running loop, without making the caller wait for it."""
    task = asyncio.get_running_loop().create_task(channel.close())
    _closing.add(task)
    task.add_done_callback(_closing.discard)


__all__ = ["OWN_CONNECTIONS", "in_backoff", "retire"]
