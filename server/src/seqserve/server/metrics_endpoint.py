"""The `/metrics` HTTP endpoint: prometheus_client's default registry, from a daemon thread."""

from __future__ import annotations

import logging

from prometheus_client import start_http_server

log = logging.getLogger(__name__)


def serve(host: str, port: int) -> int:
    """Serve `/metrics` over HTTP from a daemon thread; returns the bound port (0: any)."""
    server, _thread = start_http_server(port, addr=host)
    bound = int(server.server_port)
    log.info("metrics on http://%s:%d/metrics", host, bound)
    return bound
