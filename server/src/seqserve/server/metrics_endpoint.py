"""The `/metrics` HTTP endpoint: prometheus_client's default registry, from a daemon thread.

It has no authentication, so it binds to loopback unless `metrics_host` says otherwise,
and it is bounded: at most `METRICS_CONNECTIONS` connections are served at once (more are
closed at once; a scraper retries at its next interval), and a request not received
within `METRICS_READ_TIMEOUT_S` is dropped, so idle half-sent requests cannot pile up
threads.
"""

from __future__ import annotations

import logging
import socket
import threading
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import make_wsgi_app

log = logging.getLogger(__name__)

METRICS_CONNECTIONS = 8
METRICS_READ_TIMEOUT_S = 5.0


class _QuietHandler(WSGIRequestHandler):
    timeout = METRICS_READ_TIMEOUT_S  # a half-sent request cannot hold its thread longer

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _BoundedServer(ThreadingMixIn, WSGIServer):
    """A thread per connection, at most `METRICS_CONNECTIONS` of them."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type[WSGIRequestHandler]) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self._slots = threading.BoundedSemaphore(METRICS_CONNECTIONS)
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()


def serve(host: str, port: int) -> int:
    """Serve `/metrics` over HTTP from a daemon thread; returns the bound port (0: any)."""
    server = make_server(
        host.strip("[]"), port, make_wsgi_app(), _BoundedServer, handler_class=_QuietHandler
    )
    thread = threading.Thread(target=server.serve_forever, name="metrics-http", daemon=True)
    thread.start()
    bound = int(server.server_port)
    log.info("metrics on http://%s:%d/metrics", host, bound)
    return bound
