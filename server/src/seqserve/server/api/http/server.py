"""The HTTP port on the running event loop: uvicorn's `Server`, started as a task.

No second thread or process: the ASGI app runs on the same loop as the gRPC server and
calls the same core. The socket is bound when the server is created (port 0 picks a free
port; the bound one is `port`), so the port is known before anything is served.
TLS follows the gRPC port's settings: `tls_cert`/`tls_key`, and with `tls_client_ca`
client certificates are required.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import socket
import ssl

import uvicorn

from seqserve.server.api.http.app import create_app
from seqserve.server.api.kserve.infer import Inference
from seqserve.server.core import InferenceCore
from seqserve.server.settings import Settings


class HttpServer:
    def __init__(
        self, settings: Settings, core: InferenceCore, inference: Inference, port: int
    ) -> None:
        self._socket = _bind(settings.host, port)
        self.port: int = self._socket.getsockname()[1]
        config = uvicorn.Config(
            create_app(core, inference),
            loop="none",
            http="httptools",
            lifespan="off",
            log_config=None,
            access_log=False,
            server_header=False,
            timeout_graceful_shutdown=math.ceil(settings.grace),
            ssl_certfile=settings.tls_cert,
            ssl_keyfile=settings.tls_key,
            ssl_ca_certs=settings.tls_client_ca,
            ssl_cert_reqs=ssl.CERT_REQUIRED if settings.tls_client_ca else ssl.CERT_NONE,
        )
        self._server = uvicorn.Server(config)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        server = self._server
        server.config.load()
        server.lifespan = server.config.lifespan_class(server.config)
        await server.startup(sockets=[self._socket])
        self._task = asyncio.create_task(server.main_loop(), name="http-server")

    async def stop(self) -> None:
        """Stop accepting; calls in flight get the grace period, then are cancelled."""
        self._server.should_exit = True
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            await self._server.shutdown(sockets=[self._socket])
        self._socket.close()


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as exc:
        sock.close()
        raise OSError(f"cannot bind HTTP port {host}:{port}: {exc.strerror}") from None
    sock.set_inheritable(True)
    return sock
