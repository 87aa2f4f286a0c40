"""Transport security of the listening port: plaintext, TLS, or mutual TLS.

- `tls_cert` + `tls_key`: TLS (the port speaks TLS only).
- plus `tls_client_ca`: mutual TLS; a client must present a certificate signed by that CA,
  otherwise the handshake fails and no call reaches the server.
- neither: plaintext, meant for loopback. Binding any other address in plaintext logs a
  warning (a sidecar or mesh may provide TLS, so it is not refused).
"""

from __future__ import annotations

import ipaddress
import logging
from pathlib import Path

import grpc

from seqserve.server.settings import Settings

log = logging.getLogger(__name__)


class TLSConfigError(OSError):
    """A certificate or key file cannot be read."""


def server_credentials(settings: Settings) -> grpc.ServerCredentials | None:
    """Credentials for `add_secure_port`, or None for plaintext."""
    if settings.tls_cert is None or settings.tls_key is None:
        if not is_loopback(settings.host):
            log.warning(
                "serving PLAINTEXT on non-loopback address %s: calls and tokens travel "
                "unencrypted; set --tls-cert/--tls-key (and --tls-client-ca for mutual TLS) "
                "unless a proxy or mesh terminates TLS",
                settings.host,
            )
        return None
    key, chain = _read(settings.tls_key), _read(settings.tls_cert)
    client_ca = _read(settings.tls_client_ca) if settings.tls_client_ca is not None else None
    log.info("serving %s", "mutual TLS (client certificates required)" if client_ca else "TLS")
    return grpc.ssl_server_credentials(
        [(key, chain)], root_certificates=client_ca, require_client_auth=client_ca is not None
    )


def is_loopback(host: str) -> bool:
    name = host.strip("[]")
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False  # a host name or wildcard other than localhost


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise TLSConfigError(f"cannot read {path}: {exc.strerror}") from None
