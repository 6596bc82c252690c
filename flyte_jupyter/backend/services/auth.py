"""Every call is authenticated before its message is parsed, and refusals become gRPC statuses.

Two kinds of credential arrive as ``authorization: Bearer <credential>`` metadata:

* the backend's **admin token** (DIR/token, handed to clients in DIR/client.yaml): every method;
* a **run credential** (``fjr1.<payload>.<signature>``), which the executor gives each action of a
  run in ``FLYTE_JUPYTER_TOKEN`` instead of the admin token. The payload (base64url JSON) names the
  run (project, domain, name, creation time) and an expiry; the signature is an HMAC-SHA256 over it
  with a key derived from the admin token, so the backend checks it without storing anything, and
  it stays valid across backend restarts. It allows only what a nested call needs, and only on
  its own run: EnqueueAction(s), AbortQueuedAction, Watch, GetAction, TailLogs, TailRunLogs and GetRun, and
  GetTask in the run's own project and domain (a deployed task called from a task). It is
  refused once the run has ended (its root action is terminal), after its expiry, and for
  any other run, CreateRun, ListRuns, WatchRuns, AbortRun, DeleteRun and the admin service.

`AuthInterceptor` does this before the method's handler runs, so an unauthenticated request's bytes
are never deserialized (UNAUTHENTICATED, not a parse error). For an authenticated call it wraps the
request deserializer: a message that does not parse becomes INVALID_ARGUMENT with one short,
rate-limited log line (grpc.aio would answer UNKNOWN and log a traceback per request). Then the run
named in the parsed request is checked against a run credential's scope (PERMISSION_DENIED).
The standard health service stays open. `guard` turns what a method raises into a status.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import functools
import hashlib
import hmac
import inspect
import json
import logging
import time
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Iterable

import grpc
import grpc.aio

from flyte_jupyter.backend.catalog import VersionConflict
from flyte_jupyter.backend.forward import was_forwarded
from flyte_jupyter.backend.replicas import RunElsewhere
from flyte_jupyter.backend.services.validation import (
    Invalid,
)

if TYPE_CHECKING:
    from flyte_jupyter.backend.forward import Forwarder
    from flyte_jupyter.backend.state import StateHub

log = logging.getLogger("flyte_jupyter.backend")

CREDENTIAL_PREFIX = "fjr1."
_MAX_CREDENTIAL = 2048
_KEY_CONTEXT = b"flyte-jupyter run credential v1"
_PKG = "/flyte_jupyter.v1."
_HEALTH = "/grpc.health.v1.Health/"
_NO_TOKEN = ("this backend requires a token: send 'authorization: Bearer <token>' metadata (the SDK does "
             "this after flyte.init_from_config('DIR/client.yaml'))")
_WRONG_TOKEN = "the token in the authorization metadata is wrong"


class Refuse(Exception):
    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        self.code = code
        self.message = message


# -- run credentials ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class RunScope:
    """What a run credential names: one run (by key and creation time) until `expires` (0: none)."""

    project: str
    domain: str
    run: str
    created_at: float
    expires: int

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.project, self.domain, self.run)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class RunCredentials:
    """Mints and checks run credentials (see the module docstring)."""

    def __init__(self, admin_token: str, ttl: float = 0.0) -> None:
        self._key = hmac.new(admin_token.encode(), _KEY_CONTEXT, hashlib.sha256).digest()
        self.ttl = max(0.0, float(ttl or 0.0))

    def _sign(self, body: str) -> str:
        return _b64(hmac.new(self._key, (CREDENTIAL_PREFIX + body).encode("ascii"), hashlib.sha256).digest())

    def mint(self, run: Any) -> str:
        """The credential of `run` (a RunRecord): the same for every action and attempt of it."""
        expires = int(run.created_at + self.ttl) + 1 if self.ttl else 0
        payload = {"p": run.project, "d": run.domain, "r": run.name, "c": run.created_at, "e": expires}
        body = _b64(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode())
        return f"{CREDENTIAL_PREFIX}{body}.{self._sign(body)}"

    def verify(self, credential: str, now: float | None = None) -> RunScope:
        """The scope of a genuine, unexpired credential; else Refuse(UNAUTHENTICATED)."""
        bad = Refuse(grpc.StatusCode.UNAUTHENTICATED, "the run credential in the authorization metadata is "
                                                      "not valid")
        if len(credential) > _MAX_CREDENTIAL or not credential.startswith(CREDENTIAL_PREFIX):
            raise bad
        body, sep, sig = credential[len(CREDENTIAL_PREFIX):].partition(".")
        if not sep or not body.isascii() or not hmac.compare_digest(sig.encode("ascii", "replace"),
                                                                   self._sign(body).encode("ascii")):
            raise bad
        try:
            payload = json.loads(_unb64(body))
            scope = RunScope(str(payload["p"]), str(payload["d"]), str(payload["r"]), float(payload["c"]),
                             int(payload["e"]))
        except (ValueError, KeyError, TypeError):
            raise bad from None
        if scope.expires and (now if now is not None else time.time()) > scope.expires:
            raise Refuse(grpc.StatusCode.UNAUTHENTICATED, f"the credential of run {scope.run} has expired")
        return scope


# -- what a run credential may do -------------------------------------------------------------


def _ids(*names: str) -> Callable[[Any], Iterable[Any]]:
    def get(request: Any) -> Iterable[Any]:
        return [getattr(request, name) for name in names]

    return get


@dataclasses.dataclass(frozen=True)
class _Place:
    """A project and domain a request names without a run: a run credential reaches its own."""

    project: str
    domain: str
    run: None = None


#: Methods a run credential may call, each with the run identifiers (or places) its request names.
RUN_SCOPED: dict[str, Callable[[Any], Iterable[Any]]] = {
    f"{_PKG}TaskService/GetTask": lambda r: [_Place(r.id.project, r.id.domain)],
    f"{_PKG}QueueService/EnqueueAction": _ids("id"),
    f"{_PKG}QueueService/EnqueueActions": lambda r: [a.id for a in r.actions],
    f"{_PKG}QueueService/AbortQueuedAction": _ids("id"),
    f"{_PKG}StateService/Watch": _ids("run"),
    f"{_PKG}StateService/GetAction": _ids("id"),
    f"{_PKG}StateService/TailLogs": _ids("id"),
    f"{_PKG}StateService/TailRunLogs": _ids("run"),
    f"{_PKG}RunService/GetRun": _ids("id"),
}


# -- quiet logging of refusals ----------------------------------------------------------------


class RateLimitedLog:
    """At most `burst` lines per kind, then one per `interval` seconds saying how many were left out:
    a flood of bad requests costs the log a few lines, not one per request."""

    def __init__(self, interval: float = 60.0, burst: int = 2) -> None:
        self.interval = interval
        self.burst = burst
        self._state: dict[str, list[float]] = {}  # kind -> [lines in window, window start, suppressed]

    def warning(self, kind: str, message: str) -> None:
        now = time.monotonic()
        state = self._state.setdefault(kind, [0, now, 0])
        if now - state[1] > self.interval:
            state[0], state[1] = 0, now
        if state[0] >= self.burst:
            state[2] += 1
            return
        state[0] += 1
        suppressed, state[2] = int(state[2]), 0
        log.warning("%s%s", message, f" ({suppressed} more like it not logged)" if suppressed else "")


# -- the interceptor --------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Malformed:
    size: int
    error: str


def _refusal(handler: Any, code: grpc.StatusCode, message: str) -> Any:
    """A handler of the same kind that refuses without reading the request (no deserializer)."""

    async def unary(request: Any, context: grpc.aio.ServicerContext) -> Any:
        await context.abort(code, message)

    async def stream(request: Any, context: grpc.aio.ServicerContext) -> Any:
        await context.abort(code, message)
        yield  # pragma: no cover - abort raises

    if handler.unary_unary is not None:
        return grpc.unary_unary_rpc_method_handler(unary)
    if handler.unary_stream is not None:
        return grpc.unary_stream_rpc_method_handler(stream)
    if handler.stream_unary is not None:
        return grpc.stream_unary_rpc_method_handler(unary)
    return grpc.stream_stream_rpc_method_handler(stream)


class AuthInterceptor(grpc.aio.ServerInterceptor):
    """Authentication before parsing, controlled parse errors, run scopes (see the module docstring)."""

    def __init__(self, token: str, credentials: RunCredentials, hub: "StateHub", project: str, domain: str,
                 forwarder: "Forwarder | None" = None) -> None:
        self._expected = f"Bearer {token}".encode()
        self.forwarder = forwarder  # with replicas: a call about a run another one drives goes there
        self.credentials = credentials
        self.hub = hub
        self.project = project
        self.domain = domain
        self.quiet = RateLimitedLog()

    async def intercept_service(self, continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Any]],
                                handler_call_details: grpc.HandlerCallDetails) -> Any:
        handler = await continuation(handler_call_details)
        method = handler_call_details.method
        if handler is None or method.startswith(_HEALTH):
            return handler
        try:
            scope = await self._authenticate(method, handler_call_details.invocation_metadata)
        except RunElsewhere as elsewhere:
            if self._forwardable(elsewhere, handler_call_details.invocation_metadata) and not handler.request_streaming:
                return self.forwarder.handler(handler, method, elsewhere.endpoint)  # type: ignore[union-attr]
            return _refusal(handler, grpc.StatusCode.UNAVAILABLE, str(elsewhere))
        except Refuse as refused:
            if refused.code == grpc.StatusCode.UNAUTHENTICATED:
                self.quiet.warning("unauthenticated", f"refused a call of {method} without a valid token")
            return _refusal(handler, refused.code, refused.message)
        if handler.request_streaming:
            return handler  # no such method here; authenticated, parsed by grpc as it comes
        return self._parsing(handler, method, scope)

    def _forwardable(self, elsewhere: RunElsewhere, metadata: Any) -> bool:
        """Whether a call about a run another replica drives goes to it: not when this replica
        does not forward, the owner's address is unknown, or the call was forwarded once already."""
        return self.forwarder is not None and bool(elsewhere.endpoint) and not was_forwarded(metadata)

    async def _authenticate(self, method: str, metadata: Any) -> RunScope | None:
        """None for the admin token, the scope of a valid run credential, else Refuse."""
        value = None
        for item in metadata or ():
            if item[0] == "authorization":
                value = item[1]
                break
        if value is None:
            raise Refuse(grpc.StatusCode.UNAUTHENTICATED, _NO_TOKEN)
        if isinstance(value, bytes):
            value = value.decode("ascii", "replace")
        if hmac.compare_digest(value.encode("utf-8", "replace"), self._expected):
            return None
        if not value.startswith("Bearer " + CREDENTIAL_PREFIX):
            raise Refuse(grpc.StatusCode.UNAUTHENTICATED, _WRONG_TOKEN)
        scope = self.credentials.verify(value[len("Bearer "):])
        if method not in RUN_SCOPED:
            raise Refuse(grpc.StatusCode.PERMISSION_DENIED,
                         f"the credential of run {scope.run} may not call {method.rsplit('/', 1)[-1]}: an action "
                         "may only enqueue, watch, read and abort actions of its own run")
        entry = await self.hub.get(scope.key)  # RunElsewhere: the caller forwards the call
        if entry is None or entry.run.created_at != scope.created_at:
            raise Refuse(grpc.StatusCode.UNAUTHENTICATED, f"run {scope.run} of this credential does not exist")
        root = entry.actions.get("a0")
        if root is None or root.terminal:
            raise Refuse(grpc.StatusCode.UNAUTHENTICATED,
                         f"run {scope.run} has ended; the credential of its actions is no longer valid")
        return scope

    def _check_scope(self, method: str, request: Any, scope: RunScope | None) -> None:
        if scope is None:
            return
        for ident in RUN_SCOPED[method](request):
            key = (ident.project or self.project, ident.domain or self.domain, ident.run)
            if ident.run is None and key[:2] == scope.key[:2]:
                continue
            if ident.run is None:
                raise Refuse(grpc.StatusCode.PERMISSION_DENIED,
                             f"the credential of run {scope.run} may not read tasks of {key[0]}/{key[1]}: an action "
                             "may only read tasks of its own run's project and domain")
            if key != scope.key:
                raise Refuse(grpc.StatusCode.PERMISSION_DENIED,
                             f"the credential of run {scope.run} may not touch run {ident.run!r} in "
                             f"{key[0]}/{key[1]}: an action may only reach its own run")

    def _parsing(self, handler: Any, method: str, scope: RunScope | None) -> Any:
        """`handler` with controlled parse errors and scope checks; a call whose method finds its
        run driven by another replica (an admin client's: `RunElsewhere` from the method) goes to
        that replica, its request serialized again and the answer passed back as bytes."""
        deserialize = handler.request_deserializer
        serialize = handler.response_serializer

        def safe_deserialize(data: bytes) -> Any:
            try:
                return deserialize(data) if deserialize is not None else data
            except Exception as exc:  # noqa: BLE001 - DecodeError, RecursionError, ...
                return _Malformed(len(data), type(exc).__name__)

        def passing_serialize(response: Any) -> bytes:
            return response if isinstance(response, bytes) else serialize(response)  # bytes: forwarded

        async def admit(request: Any, context: grpc.aio.ServicerContext) -> None:
            if isinstance(request, _Malformed):
                self.quiet.warning("malformed", f"refused {method}: the request ({request.size} bytes) is not a "
                                                f"valid message ({request.error})")
                await context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                                    f"the request is not a valid {method.rsplit('/', 1)[-1]} message")
            try:
                self._check_scope(method, request, scope)
            except Refuse as refused:
                await context.abort(refused.code, refused.message)

        async def elsewhere_or_abort(elsewhere: RunElsewhere, context: grpc.aio.ServicerContext) -> None:
            if not self._forwardable(elsewhere, context.invocation_metadata()):
                await context.abort(grpc.StatusCode.UNAVAILABLE, str(elsewhere))

        if handler.unary_unary is not None:
            inner = handler.unary_unary

            async def unary(request: Any, context: grpc.aio.ServicerContext) -> Any:
                await admit(request, context)
                try:
                    return await inner(request, context)
                except RunElsewhere as elsewhere:
                    await elsewhere_or_abort(elsewhere, context)
                    assert self.forwarder is not None
                    return await self.forwarder.unary(elsewhere.endpoint, method, request.SerializeToString(),
                                                      context)

            return handler._replace(request_deserializer=safe_deserialize, response_serializer=passing_serialize,
                                    unary_unary=unary)

        inner_stream = handler.unary_stream

        async def stream(request: Any, context: grpc.aio.ServicerContext) -> Any:
            await admit(request, context)
            result = inner_stream(request, context)
            if not inspect.isasyncgen(result):
                await result
                return
            sent = False
            try:
                async for item in result:
                    sent = True
                    yield item
            except RunElsewhere as elsewhere:
                if sent:  # cannot happen (methods look their run up first); the client resumes
                    await context.abort(grpc.StatusCode.UNAVAILABLE, str(elsewhere))
                await elsewhere_or_abort(elsewhere, context)
                assert self.forwarder is not None
                async for raw in self.forwarder.stream(elsewhere.endpoint, method, request.SerializeToString(),
                                                       context):
                    yield raw

        return handler._replace(request_deserializer=safe_deserialize, response_serializer=passing_serialize,
                                unary_stream=stream)


# -- statuses ---------------------------------------------------------------------------------


def status_of(exc: Exception, where: str) -> tuple[grpc.StatusCode, str]:
    """The status a caller gets for what a method (`where`, for the log) raised: refusals,
    validation errors and version conflicts say what to fix; anything else is logged as internal."""
    if isinstance(exc, Refuse):
        return exc.code, exc.message
    if isinstance(exc, Invalid):
        return grpc.StatusCode.INVALID_ARGUMENT, str(exc)
    if isinstance(exc, VersionConflict):
        return grpc.StatusCode.ALREADY_EXISTS, str(exc)
    if isinstance(exc, RunElsewhere):
        return grpc.StatusCode.UNAVAILABLE, str(exc)  # the owner's address unknown: the client retries
    log.exception("internal error in %s", where)
    return grpc.StatusCode.INTERNAL, f"internal error: {type(exc).__name__}: {exc}"


def guard(method: Callable) -> Callable:
    """Turn what a method raises (refusals, validation errors, version conflicts) into gRPC statuses;
    authentication happened before (`AuthInterceptor`)."""
    if inspect.isasyncgenfunction(method):
        @functools.wraps(method)
        async def stream(self: Any, request: Any, context: grpc.aio.ServicerContext) -> Any:
            try:
                async for item in method(self, request, context):
                    yield item
            except (asyncio.CancelledError, grpc.aio.AbortError):
                raise
            except RunElsewhere as exc:
                if exc.endpoint:
                    raise  # the interceptor passes the call on to the owner (`AuthInterceptor._parsing`)
                code, message = status_of(exc, method.__name__)
                await context.abort(code, message)
            except Exception as exc:  # noqa: BLE001
                code, message = status_of(exc, method.__name__)
                await context.abort(code, message)

        return stream

    @functools.wraps(method)
    async def unary(self: Any, request: Any, context: grpc.aio.ServicerContext) -> Any:
        try:
            return await method(self, request, context)
        except grpc.aio.AbortError:
            raise
        except RunElsewhere as exc:
            if exc.endpoint:
                raise  # the interceptor passes the call on to the owner (`AuthInterceptor._parsing`)
            code, message = status_of(exc, method.__name__)
            await context.abort(code, message)
        except Exception as exc:  # noqa: BLE001
            code, message = status_of(exc, method.__name__)
            await context.abort(code, message)

    return unary
