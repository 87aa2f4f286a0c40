"""Bearer-token authentication: a server interceptor on every method but health checks.

Callers send `authorization: Bearer <token>` metadata. Accepted tokens come from the
`auth_tokens` setting (comma-separated, usually `SEQSERVE_AUTH_TOKENS`) and/or a file
(`auth_tokens_file`, one per line, `#` comments); several may be valid at once, so a token
can be rotated without downtime. Every presented token is compared with every accepted
one by `hmac.compare_digest`, without stopping at the first match, so the time taken does
not depend on how much of a token matched. A missing or wrong token ends the call with
`UNAUTHENTICATED` before any servicer code runs; the message never echoes the token.

`grpc.health.v1.Health` stays open (load balancers and kubelets probe it without
credentials); reflection is a normal method here and can be switched off (`reflection`).
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Iterable
from typing import Any

import grpc

from seqserve.server.api.plumbing import Continuation, rewrapped
from seqserve.server.settings import Settings

log = logging.getLogger(__name__)

EXEMPT_PREFIXES = ("/grpc.health.v1.Health/",)
SCHEME = "bearer "


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
        tokens += [line.split("#", 1)[0] for line in text.splitlines()]
    accepted = [t.strip().encode() for t in tokens if t.strip()]
    configured = settings.auth_tokens is not None or settings.auth_tokens_file is not None
    if configured and not accepted:
        raise AuthConfigError("token authentication configured but no token given")
    return accepted


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

    async def intercept_service(
        self, continuation: Continuation, details: grpc.HandlerCallDetails
    ) -> grpc.RpcMethodHandler | None:
        method: str = details.method
        if method.startswith(EXEMPT_PREFIXES):
            return await continuation(details)
        token = presented_token(details.invocation_metadata)
        if token is not None and token_matches(token, self._tokens):
            return await continuation(details)
        handler = await continuation(details)
        if handler is None:  # unknown method: UNIMPLEMENTED reveals nothing more
            return None
        why = "missing" if token is None else "invalid"
        log.warning("refused %s: %s bearer token", method, why)
        return _refusal(handler, f"{why} bearer token: send 'authorization: Bearer <token>'")


def _refusal(handler: grpc.RpcMethodHandler, message: str) -> grpc.RpcMethodHandler:
    """A handler of the same shape as `handler` that ends the call with UNAUTHENTICATED."""

    async def abort(request: Any, context: grpc.aio.ServicerContext) -> None:
        await context.abort(grpc.StatusCode.UNAUTHENTICATED, message)

    async def abort_stream(request: Any, context: grpc.aio.ServicerContext) -> Any:
        await context.abort(grpc.StatusCode.UNAUTHENTICATED, message)
        yield  # pragma: no cover  (makes this an async generator)

    # No deserializer: an unauthenticated caller's bytes are never parsed.
    return rewrapped(handler, abort_stream if handler.response_streaming else abort, None)
