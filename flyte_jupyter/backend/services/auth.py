"""Every call is authenticated before its message is looked at, and refusals become gRPC statuses."""

from __future__ import annotations

import asyncio
import functools
import hmac
import inspect
import logging
from typing import Any, Callable

import grpc
import grpc.aio

from flyte_jupyter.backend.catalog import VersionConflict
from flyte_jupyter.backend.services.validation import (
    Invalid,
)

log = logging.getLogger("flyte_jupyter.backend")


class Refuse(Exception):
    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        self.code = code
        self.message = message


def guard(method: Callable) -> Callable:
    """Require the token on every call and turn validation errors into gRPC statuses."""

    def check(self: Any, context: grpc.aio.ServicerContext) -> str | None:
        for key, value in context.invocation_metadata() or ():
            if key == "authorization":
                if hmac.compare_digest(value, f"Bearer {self.backend.token}"):
                    return None
                return "the token in the authorization metadata is wrong"
        return ("this backend requires a token: send 'authorization: Bearer <token>' metadata (the SDK does "
                "this after flyte.init_from_config('DIR/client.yaml'))")

    def status_of(exc: Exception) -> tuple[grpc.StatusCode, str]:
        if isinstance(exc, Refuse):
            return exc.code, exc.message
        if isinstance(exc, Invalid):
            return grpc.StatusCode.INVALID_ARGUMENT, str(exc)
        if isinstance(exc, VersionConflict):
            return grpc.StatusCode.ALREADY_EXISTS, str(exc)
        log.exception("internal error in %s", method.__name__)
        return grpc.StatusCode.INTERNAL, f"internal error: {type(exc).__name__}: {exc}"

    if inspect.isasyncgenfunction(method):
        @functools.wraps(method)
        async def stream(self: Any, request: Any, context: grpc.aio.ServicerContext) -> Any:
            problem = check(self, context)
            if problem:
                await context.abort(grpc.StatusCode.UNAUTHENTICATED, problem)
            try:
                async for item in method(self, request, context):
                    yield item
            except (Refuse, Invalid, VersionConflict, Exception) as exc:
                if isinstance(exc, (asyncio.CancelledError, grpc.aio.AbortError)):
                    raise
                code, message = status_of(exc)
                await context.abort(code, message)

        return stream

    @functools.wraps(method)
    async def unary(self: Any, request: Any, context: grpc.aio.ServicerContext) -> Any:
        problem = check(self, context)
        if problem:
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, problem)
        try:
            return await method(self, request, context)
        except grpc.aio.AbortError:
            raise
        except Exception as exc:  # noqa: BLE001
            code, message = status_of(exc)
            await context.abort(code, message)

    return unary
