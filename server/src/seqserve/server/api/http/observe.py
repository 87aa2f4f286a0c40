"""The HTTP port's outermost layer: request id, bearer tokens, metrics and the access log.

The same rules as the gRPC interceptors (`seqserve.server.api.observe` and `.auth`):
the caller's `x-request-id` header (or a new id) is sent back on every answer and stamps
every log line of the call; with tokens configured, every route but the health checks and
the models page needs `Authorization: Bearer <token>` (401 otherwise, before any route
runs); each call counts in `seqserve_requests_total` with `protocol="http"`, the HTTP
status as `code` and as `method` the gRPC method the route stands for (set by the route).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from seqserve.server.api.auth import presented_token, token_matches
from seqserve.server.api.http.errors import HttpError, error_response
from seqserve.server.api.observe import HEADER, request_id
from seqserve.server.calls import CallState, active_calls, current_call
from seqserve.server.errors import ShuttingDown
from seqserve.server.metrics import RequestMetrics, known_model

PROTOCOL = "http"
HEALTH = "/v2/health/"
OPEN_PATHS = frozenset({"/", f"{HEALTH}live", f"{HEALTH}ready"})
access_log = logging.getLogger("seqserve.server.access")


def name_call(method: str, model: str = "") -> None:
    """Label the call being served (its gRPC method and model) for metrics and the log."""
    call = current_call.get()
    if call is not None:
        call.method = method
        call.model = model


class Observe:
    def __init__(self, app: ASGIApp, tokens: list[bytes], access_level: int) -> None:
        self.app = app
        self.tokens = tokens
        self.access_level = access_level
        self._requests = RequestMetrics()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
        call = CallState(request_id(headers), "unrouted")
        current_call.set(call)  # each ASGI call runs in its own task
        status = 499  # until a response starts: the caller went away first
        echo = (HEADER.encode(), call.request_id.encode())

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), echo]
            await send(message)

        # a stopping server lets the calls it took finish (health checks are not waited for)
        counted = not scope["path"].startswith(HEALTH) and active_calls.begin()
        try:
            if not counted and not scope["path"].startswith(HEALTH):
                await error_response(ShuttingDown())(scope, receive, send_with_id)
            elif self.tokens and scope["path"] not in OPEN_PATHS and not self._allowed(headers):
                response = error_response(
                    HttpError(401, "missing or invalid bearer token (Authorization: Bearer ...)")
                )
                response.headers["www-authenticate"] = "Bearer"
                await response(scope, receive, send_with_id)
            else:
                await self.app(scope, receive, send_with_id)
        except Exception:
            if status == 499:  # no answer sent: let the server log it and answer 500
                raise
            # answered (500, request id) and logged with its traceback by `errors`
        finally:
            if counted:
                active_calls.end()
            seconds = time.perf_counter() - started
            self._requests.observe(call.model, call.method, str(status), seconds, PROTOCOL)
            self._log(call, scope, status, seconds)

    def _allowed(self, headers: list[tuple[str, str]]) -> bool:
        token = presented_token(headers)
        return token is not None and token_matches(token, self.tokens)

    def _log(self, call: CallState, scope: Scope, status: int, seconds: float) -> None:
        level = self.access_level if status < 400 or status == 500 else logging.INFO
        if status in (429, 503):
            level = logging.WARNING
        if not access_log.isEnabledFor(level):
            return
        ms = round(seconds * 1e3, 3)
        model = known_model(call.model)
        client: Any = scope.get("client") or ("-", 0)
        access_log.log(
            level,
            "%s %s model=%s code=%d %.2f ms peer=%s:%s",
            scope["method"],
            call.method,
            model or "-",
            status,
            ms,
            client[0],
            client[1],
            extra={
                "request_id": call.request_id,
                "method": call.method,
                "model": model,
                "code": str(status),
                "duration_ms": ms,
                "peer": f"{client[0]}:{client[1]}",
                "protocol": PROTOCOL,
            },
        )
