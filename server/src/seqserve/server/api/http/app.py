"""The Starlette application of the HTTP port: every route, one error handler.

Any exception a route raises becomes its HTTP status and `{"error": "..."}` body here
(`errors`): domain errors through the server's one error table, anything unexpected as 500
with the request id. Unknown paths answer 404 and wrong methods 405, in the same form.
"""

from __future__ import annotations

import logging

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp

from seqserve.server.api.auth import load_tokens
from seqserve.server.api.http import page
from seqserve.server.api.http.body import BodyReader
from seqserve.server.api.http.errors import HttpError, error_response
from seqserve.server.api.http.kserve import KServeRoutes
from seqserve.server.api.http.observe import Observe
from seqserve.server.api.http.v1 import V1Routes
from seqserve.server.api.kserve.infer import Inference
from seqserve.server.core import InferenceCore
from seqserve.server.errors import SeqServeError


def create_app(core: InferenceCore, inference: Inference) -> ASGIApp:
    settings = core.settings
    body = BodyReader(settings.max_message_bytes, settings.http_body_timeout)
    routes = [
        *page.routes(),
        *KServeRoutes(core, inference, body).routes(),
        *V1Routes(core, body).routes(),
    ]
    app = Starlette(
        routes=routes,
        exception_handlers={
            HTTPException: _http_exception,
            HttpError: _error,
            SeqServeError: _error,
            Exception: _error,  # answered with 500, then re-raised to `Observe`
        },
    )
    access = logging.INFO if settings.log_access else logging.DEBUG
    return Observe(app, load_tokens(settings), access)


async def _error(request: Request, exc: Exception) -> Response:
    return error_response(exc)


async def _http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        message = f"no route {request.url.path}; see GET / for the models and docs/http.md"
    elif exc.status_code == 405:
        message = f"{request.method} is not allowed on {request.url.path}"
    else:
        message = str(exc.detail)
    return error_response(HttpError(exc.status_code, message))
