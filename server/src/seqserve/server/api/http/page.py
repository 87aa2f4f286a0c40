"""The models page at `GET /`: one self-contained HTML file (`page.html`, no external
assets). It reads `/v1/models`, lists every model with its kind, versions, readiness and
input format, and tries one through `/v1/models/{m}:predict` (seq2seq through `:stream`,
symbol by symbol). With tokens on, the page itself is open and its calls carry the token
typed into its token field."""

from __future__ import annotations

from functools import cache
from importlib import resources

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from seqserve.server.api.http.observe import name_call


@cache
def html() -> str:
    return resources.files(__package__).joinpath("page.html").read_text(encoding="utf-8")


async def models_page(request: Request) -> Response:
    name_call("Page")
    return HTMLResponse(html(), headers={"cache-control": "no-cache"})


def routes() -> list[Route]:
    return [Route("/", models_page, methods=["GET"])]
