"""How a failure reads at the terminal: one line that says what happened and what to check.

The library's exceptions carry the server's (or gRPC's) text; the CLI rewrites the ones a
person cannot act on as given: a connection that failed (no server, TLS on one side only,
not a gRPC server, a name that does not resolve), a missing token, an unknown model name
(with the closest known name), and a model used through the wrong command.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable

from seqserve.client import _errors
from seqserve.client._results import Model

TARGET_HINT = "set --target or SEQSERVE_TARGET"
TOKEN_HINT = "pass --token, --token-file or SEQSERVE_TOKEN"
STATEFUL = "stateful_step"


def explain(error: _errors.SeqServeError, target: str, tls: bool) -> str:
    """The message to print for `error` from a call to `target` (with or without TLS)."""
    text = error.message
    if isinstance(error, _errors.Unauthenticated):
        return f"{text} ({TOKEN_HINT})"
    if not isinstance(error, _errors.Unavailable):
        return text
    lowered = text.lower()
    for needles, over_tls, template in _CONNECTION_FAILURES:
        if over_tls in (None, tls) and any(needle in lowered for needle in needles):
            return template.format(target=target)
    return text


# (words of gRPC's text, whether the call used TLS (None: either), what to print)
_CONNECTION_FAILURES: tuple[tuple[tuple[str, ...], bool | None, str], ...] = (
    (
        ("connection refused",),
        None,
        "no server is listening at {target} (connection refused): start one, or " + TARGET_HINT,
    ),
    (
        ("resolving", "resolution", "lookup"),
        None,
        "cannot resolve the host of {target}: check its spelling, or " + TARGET_HINT,
    ),
    (
        ("wrong_version_number", "record_too_large"),
        True,
        "the TLS handshake with {target} failed: the server does not speak TLS; drop --tls",
    ),
    (
        ("certificate_verify_failed", "unable to get local issuer"),
        True,
        "the certificate of {target} is not trusted: pass the CA that signed it with "
        "--tls-ca PEM (and --tls-server-name NAME if it names another host)",
    ),
    (
        ("handshake", "ssl_error", "socket closed", "connection reset"),
        True,
        "the TLS handshake with {target} failed: the server may require a client "
        "certificate (--tls-cert PEM --tls-key PEM); check --tls-ca",
    ),
    (
        ("socket closed", "connection reset"),
        False,
        "{target} closed the connection: if the server speaks TLS, add --tls (or --tls-ca PEM)",
    ),
    (
        ("parsing http/2", "frame"),
        None,
        "{target} did not answer as a gRPC server: check the port, and add --tls if the "
        "server speaks TLS",
    ),
    (
        ("timed out", "no route", "unreachable"),
        None,
        "cannot reach {target}: check the address and the network, or " + TARGET_HINT,
    ),
)


def suggest_model(
    error: _errors.ModelNotFound, name: str, known: Callable[[], list[Model]]
) -> _errors.SeqServeError:
    """`error` with the closest known model name added, when `name` is not a model at all."""
    try:
        names = [model.name for model in known()]
    except _errors.SeqServeError:
        return error
    if name in names:  # the model exists: a version was missing
        return error
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.5)
    if not close:
        return error
    return _errors.ModelNotFound(f"{error.message}; did you mean {close[0]!r}?", error.code)


def check_command(model: Model, command: str) -> None:
    """Refuse a model used through the wrong command, naming the command to use."""
    if command in ("predict", "stream") and model.kind == STATEFUL:
        raise _errors.InvalidInput(
            f"{model.name} is a {STATEFUL} model: step it with `seqserve session {model.name}`",
            "INVALID_ARGUMENT",
        )
    if command == "session" and model.kind != STATEFUL:
        raise _errors.InvalidInput(
            f"{model.name} is a {model.kind} model, not a session: use "
            f"`seqserve predict {model.name} INPUT` (or `seqserve stream`)",
            "INVALID_ARGUMENT",
        )
