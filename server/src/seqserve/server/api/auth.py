"""Bearer-token authentication: a server interceptor on every method but the health check.

Callers send `authorization: Bearer <token>` metadata. Accepted tokens come from the
`auth_tokens` setting (comma-separated, usually `SEQSERVE_AUTH_TOKENS`) and/or a file
(`auth_tokens_file`: each line is one whole token; lines that start with `#` are comments,
blank lines are skipped); several may be valid at once, so a token can be rotated without
downtime. A token shorter than `MIN_TOKEN_LENGTH` characters, or holding whitespace, is
refused at start (a typo or a comment on a token's line must not become a weak token).
Every presented token is compared with every accepted one by `hmac.compare_digest`,
without stopping at the first match, so the time taken does not depend on how much of a
token matched. A missing or wrong token ends the call with
`UNAUTHENTICATED` before any servicer code runs; the message never echoes the token.

Only `grpc.health.v1.Health/Check` stays open (load balancers and kubelets probe it without
credentials); `Watch` streams need a token. Reflection is a normal method here and can be
switched off (`reflection`). An unauthenticated call to a method that does not exist gets
the same `UNAUTHENTICATED` as one to a method that does, so method names cannot be probed.
Refusals are logged at most `REFUSAL_LOG_PER_MINUTE` times a minute (then one line with the
count); each is counted in the metrics by the observing interceptor.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from collections.abc import Iterable
from typing import Any

import grpc

from seqserve.server.api.plumbing import Continuation, rewrapped
from seqserve.server.errors import shown
from seqserve.server.logs import RateLimitedLog
from seqserve.server.settings import Settings

log = logging.getLogger(__name__)

EXEMPT_METHODS = frozenset({"/grpc.health.v1.Health/Check"})
SCHEME = "bearer "
MIN_TOKEN_LENGTH = 16
REFUSAL_LOG_PER_MINUTE = 10
REFUSAL_DELAY_S = 0.25  # how long a refused call holds its stream (see hold_refused_stream)


class AuthConfigError(OSError):
    """The token settings cannot be used (unreadable file, no token at all)."""


def load_tokens(settings: Settings) -> list[bytes]:
    """The accepted tokens; empty when authentication is off."""
    tokens: list[str] = []
    if settings.auth_tokens is not None:
        tokens += settings.auth_tokens.get_secret_value().split(",")
    if settings.auth_tokens_file is not None:
        try:
            text = settings.auth_tokens_file.read_text(encoding="utf-8")
        except OSError as exc:
            raise AuthConfigError(
                f"cannot read --auth-tokens-file {settings.auth_tokens_file}: {exc.strerror}"
            ) from None
        tokens += [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    accepted = [t.strip() for t in tokens if t.strip()]
    configured = settings.auth_tokens is not None or settings.auth_tokens_file is not None
    if configured and not accepted:
        raise AuthConfigError("token authentication configured but no token given")
    for index, token in enumerate(accepted, 1):
        if len(token) < MIN_TOKEN_LENGTH or any(c.isspace() for c in token):
            raise AuthConfigError(
                f"accepted token {index} has {len(token)} characters"
                + (" including whitespace" if any(c.isspace() for c in token) else "")
                + f"; tokens are at least {MIN_TOKEN_LENGTH} characters without whitespace "
                "(in a file, one whole token per line; comments on lines starting with #)"
            )
    return [token.encode() for token in accepted]


def presented_token(metadata: Iterable[tuple[str, str | bytes]] | None) -> bytes | None:
    """The bearer token of a call's metadata, if it carries one."""
    for key, value in metadata or ():
        if key.lower() != "authorization":
            continue
        text = value.decode("latin-1") if isinstance(value, bytes) else value
        if text[: len(SCHEME)].lower() == SCHEME:
            return text[len(SCHEME) :].strip().encode()
        return None
    return None


def token_matches(token: bytes, accepted: list[bytes]) -> bool:
    """Constant-time against each accepted token; all of them are compared."""
    found = False
    for candidate in accepted:
        found |= hmac.compare_digest(token, candidate)
    return found


class TokenAuthInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]
    def __init__(self, tokens: list[bytes]) -> None:
        if not tokens:
            raise AuthConfigError("TokenAuthInterceptor needs at least one token")
        self._tokens = tokens
        self._log = RateLimitedLog(log, REFUSAL_LOG_PER_MINUTE, 60.0)

    async def intercept_service(
        self, continuation: Continuation, details: grpc.HandlerCallDetails
    ) -> grpc.RpcMethodHandler | None:
        method: str = details.method
        if method in EXEMPT_METHODS:
            return await continuation(details)
        token = presented_token(details.invocation_metadata)
        if token is not None and token_matches(token, self._tokens):
            return await continuation(details)
        # unknown methods are refused alike: an unauthenticated caller learns no names
        handler = await continuation(details)
        why = "missing" if token is None else "invalid"
        self._log.warning("refused %s: %s bearer token", shown(method), why)
        await hold_refused_stream()  # here: a reset stream never reaches the handler
        return _refusal(handler, f"{why} bearer token: send 'authorization: Bearer <token>'")


async def hold_refused_stream() -> None:
    """Keep a refused call, and so its HTTP/2 stream, for `REFUSAL_DELAY_S`, even when the
    peer resets it meanwhile.

    grpc core counts a stream against the connection's `max_concurrent_streams` until the
    server has finished with it. Held here, a peer without a token can have at most that
    many refusals in progress per connection, whatever rate it opens and resets streams
    at ("rapid reset"): the transport refuses its further streams before any Python code
    runs, and authenticated callers keep the server.
    """
    deadline = time.monotonic() + REFUSAL_DELAY_S
    while (remaining := deadline - time.monotonic()) > 0:
        try:
            await asyncio.sleep(remaining)
        except asyncio.CancelledError:  # the peer reset the stream: hold it all the same
            continue


def _refusal(handler: grpc.RpcMethodHandler | None, message: str) -> grpc.RpcMethodHandler:
    """A handler of the same shape as `handler` (unary for an unknown method) that ends the
    call with UNAUTHENTICATED."""

    async def abort(request: Any, context: grpc.aio.ServicerContext) -> None:
        await context.abort(grpc.StatusCode.UNAUTHENTICATED, message)

    async def abort_stream(request: Any, context: grpc.aio.ServicerContext) -> Any:
        await context.abort(grpc.StatusCode.UNAUTHENTICATED, message)
        yield  # pragma: no cover  (makes this an async generator)

    # No deserializer: an unauthenticated caller's bytes are never parsed.
    if handler is None:  # an unknown method: refused alike, as if it were a unary one
        return grpc.unary_unary_rpc_method_handler(abort)
    return rewrapped(handler, abort_stream if handler.response_streaming else abort, None)
