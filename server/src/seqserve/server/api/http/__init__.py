"""The HTTP/JSON port: KServe v2 REST (Triton's flavour, with its binary tensor, sequence
and generate extensions), seqserve.v1 over JSON, server-sent events for streams, and a
models page at `/`.

It runs on the gRPC server's event loop (`server.HttpServer`, uvicorn on Starlette) and
calls the same core. Modules: `server` (the uvicorn task), `app` (routes and the error
handler), `observe` (request id, tokens, metrics, access log), `errors` (the HTTP codes of
the error table), `body` (size and time limits), `tensors` (KServe bodies <-> protocol
messages), `plain` (protocol messages as Triton's JSON), `kserve` and `v1` (the routes),
`sse` (server-sent events), `page` (the models page).
"""

from seqserve.server.api.http.server import HttpServer

__all__ = ["HttpServer"]
