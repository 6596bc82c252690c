"""Forwarding a call to the replica that owns its run, byte for byte.

A Kubernetes Service balances connections, not runs: a call about a run may land on any replica,
and only the run's owner drives it. Two kinds of call are passed on:

* an action's call carries its run's credential, so the interceptor knows the run before it parses
  anything and passes the call on unparsed (`handler`);
* an admin client's call (GetRun, AbortRun, GetAction, Watch, TailLogs, ...) names its run in the
  request: the method finds the run owned elsewhere and the interceptor passes the parsed request
  on, serialized again (`unary`, `stream`).

Either way the caller's credential and deadline are kept, the owner's answer (or stream, message
by message) comes back as bytes and its status as the caller's. A forwarded call is marked
(`FORWARDED`), and a marked call is never forwarded again: replicas that disagree for a moment
about an owner answer UNAVAILABLE (the SDK retries) instead of passing a call around in a circle.
Channels to the other replicas are kept, one per endpoint, and replaced when a replica restarted at
its address (`_internal/wire/channels`).
"""

from __future__ import annotations

from typing import Any, AsyncIterator

import grpc
import grpc.aio

from flyte_jupyter._internal.wire.channels import OWN_CONNECTIONS, in_backoff, retire

#: Metadata a forwarded call carries (the replica that forwarded it).
FORWARDED = "x-flyte-jupyter-forwarded"


def was_forwarded(metadata: Any) -> bool:
    return any(item[0] == FORWARDED for item in metadata or ())


def _timeout(context: grpc.aio.ServicerContext) -> float | None:
    left = context.time_remaining()
    return left if left is not None and left < 1e8 else None


class Forwarder:
    def __init__(self, tls_cert: str | None = None, replica_id: str = "") -> None:
        self._channels: dict[str, grpc.aio.Channel] = {}
        self._root = open(tls_cert, "rb").read() if tls_cert else None
        self.replica_id = replica_id or "?"

    def _channel(self, endpoint: str) -> grpc.aio.Channel:
        channel = self._channels.get(endpoint)
        if channel is not None and in_backoff(channel):  # the owner restarted at its address: reach it at once
            retire(channel)
            channel = None
        if channel is None:
            options = [("grpc.max_send_message_length", 32 << 20), ("grpc.max_receive_message_length", 32 << 20),
                       OWN_CONNECTIONS]
            if self._root is not None:
                channel = grpc.aio.secure_channel(endpoint, grpc.ssl_channel_credentials(self._root), options)
            else:
                channel = grpc.aio.insecure_channel(endpoint, options)
            self._channels[endpoint] = channel
        return channel

    def _metadata(self, metadata: Any) -> list[tuple[str, Any]]:
        kept = [(k, v) for k, v in (metadata or ()) if k == "authorization"]
        return [*kept, (FORWARDED, self.replica_id)]

    async def unary(self, endpoint: str, method: str, request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        """The owner's answer to `method(request)`, or the caller aborted with the owner's status."""
        call = self._channel(endpoint).unary_unary(method)
        try:
            return await call(request, metadata=self._metadata(context.invocation_metadata()),
                              timeout=_timeout(context))
        except grpc.aio.AioRpcError as exc:
            await context.abort(exc.code(), exc.details() or "")
            raise  # pragma: no cover - abort raises

    async def stream(self, endpoint: str, method: str, request: bytes,
                     context: grpc.aio.ServicerContext) -> AsyncIterator[bytes]:
        """The owner's stream of `method(request)`, message by message; its end or status is the caller's."""
        call = self._channel(endpoint).unary_stream(method)(
            request, metadata=self._metadata(context.invocation_metadata()), timeout=_timeout(context))
        try:
            async for item in call:
                yield item
        except grpc.aio.AioRpcError as exc:
            await context.abort(exc.code(), exc.details() or "")
        finally:
            call.cancel()  # the caller went away: so does the owner's stream

    def handler(self, handler: Any, method: str, endpoint: str) -> Any:
        """A handler of `handler`'s kind that answers by calling `method` on `endpoint`, unparsed."""
        if handler.unary_unary is not None:
            async def unary(request: bytes, context: grpc.aio.ServicerContext) -> Any:
                return await self.unary(endpoint, method, request, context)

            return grpc.unary_unary_rpc_method_handler(unary)

        async def stream(request: bytes, context: grpc.aio.ServicerContext) -> Any:
            async for item in self.stream(endpoint, method, request, context):
                yield item

        return grpc.unary_stream_rpc_method_handler(stream)

    async def close(self) -> None:
        for channel in self._channels.values():
            await channel.close()
        self._channels.clear()
