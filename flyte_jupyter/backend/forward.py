"""Forwarding a call to the replica that owns its run, byte for byte.

An action's call carries its run's credential, so the interceptor knows the run before it parses
anything; when another live replica leases that run, the call is passed to it unparsed (request
bytes in, response bytes out, the caller's credential and deadline kept) and its answer or status
is passed back. A Kubernetes Service balances connections, not runs: without this, an action pod
whose connection landed on the wrong replica could never reach its run. Channels to the other
replicas are kept, one per endpoint.
"""

from __future__ import annotations

from typing import Any

import grpc
import grpc.aio


class Forwarder:
    def __init__(self, tls_cert: str | None = None) -> None:
        self._channels: dict[str, grpc.aio.Channel] = {}
        self._root = open(tls_cert, "rb").read() if tls_cert else None

    def _channel(self, endpoint: str) -> grpc.aio.Channel:
        channel = self._channels.get(endpoint)
        if channel is None:
            options = [("grpc.max_send_message_length", 32 << 20), ("grpc.max_receive_message_length", 32 << 20)]
            if self._root is not None:
                channel = grpc.aio.secure_channel(endpoint, grpc.ssl_channel_credentials(self._root), options)
            else:
                channel = grpc.aio.insecure_channel(endpoint, options)
            self._channels[endpoint] = channel
        return channel

    def handler(self, handler: Any, method: str, endpoint: str, metadata: Any) -> Any:
        """A handler of `handler`'s kind that answers by calling `method` on `endpoint`."""
        channel = self._channel(endpoint)
        forwarded = [(k, v) for k, v in (metadata or ()) if k == "authorization"]

        def timeout(context: grpc.aio.ServicerContext) -> float | None:
            left = context.time_remaining()
            return left if left is not None and left < 1e8 else None

        if handler.unary_unary is not None:
            call = channel.unary_unary(method)

            async def unary(request: bytes, context: grpc.aio.ServicerContext) -> Any:
                try:
                    return await call(request, metadata=forwarded, timeout=timeout(context))
                except grpc.aio.AioRpcError as exc:
                    await context.abort(exc.code(), exc.details() or "")

            return grpc.unary_unary_rpc_method_handler(unary)

        stream_call = channel.unary_stream(method)

        async def stream(request: bytes, context: grpc.aio.ServicerContext) -> Any:
            try:
                async for item in stream_call(request, metadata=forwarded, timeout=timeout(context)):
                    yield item
            except grpc.aio.AioRpcError as exc:
                await context.abort(exc.code(), exc.details() or "")

        return grpc.unary_stream_rpc_method_handler(stream)

    async def close(self) -> None:
        for channel in self._channels.values():
            await channel.close()
        self._channels.clear()
