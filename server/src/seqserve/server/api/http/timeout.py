"""A call's own deadline over HTTP: the `Grpc-Timeout` header, as grpc-gateway reads it.

Its value is a whole number and a unit (`H` hours, `M` minutes, `S` seconds, `m`
milliseconds, `u` microseconds, `n` nanoseconds), e.g. `Grpc-Timeout: 500m`. Without it the
server's `default_deadline` applies, as for a gRPC call without a deadline; KServe's
`timeout` parameter can shorten it further.
"""

from __future__ import annotations

from starlette.requests import Request

from seqserve.server.api.http.errors import HttpError

HEADER = "grpc-timeout"
UNITS = {"H": 3600.0, "M": 60.0, "S": 1.0, "m": 1e-3, "u": 1e-6, "n": 1e-9}


def time_remaining(request: Request) -> float | None:
    """Seconds the caller gives the call; None: the server's default."""
    value = request.headers.get(HEADER)
    if value is None:
        return None
    amount, unit = value[:-1], value[-1:]
    if not (amount.isdigit() and len(amount) <= 8 and unit in UNITS):
        raise HttpError(
            400,
            f"Grpc-Timeout {value!r} must be up to 8 digits and a unit: H, M, S, m (ms), "
            "u (µs) or n (ns), e.g. 500m",
        )
    return int(amount) * UNITS[unit]
