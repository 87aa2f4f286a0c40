"""`seqserve`: query a seqserve server from a terminal.

    seqserve models                          table of models
    seqserve info addition                   one model's manifest
    seqserve predict addition "3+10"         -> 13
    seqserve predict reverse 1 2 3 4 5 6     -> 3 2 1
    seqserve predict addition --file -       one input per line, sent in batches
    seqserve stream reverse 1 2 3 4 5 6      symbols as they are decoded
    seqserve session recall                  interactive; or symbols as arguments
    seqserve health                          exit 0 when SERVING
    seqserve load addition                   --model-control explicit: load, unload
    seqserve models --all                    every version on disk, with its state

Errors print the server's message on one line to stderr and exit with the code of
their class (`EXIT_CODES`); there is never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
import textwrap
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import cast

from seqserve.client import _cli_errors, _cli_session, _errors, _render, _wire
from seqserve.client import _cli_inputs as inputs
from seqserve.client._channel import TLS
from seqserve.client._client import DEFAULT_TARGET, Client
from seqserve.client._results import ModelVersion, Prediction, Symbol
from seqserve.v1 import seqserve_pb2 as pb

EXIT_OK = 0
EXIT_NOT_SERVING = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

# Distinct exit codes per error class; documented in docs/client.md.
EXIT_CODES: dict[type[_errors.SeqServeError], int] = {
    _errors.InvalidInput: 3,
    _errors.ModelNotFound: 4,
    _errors.SessionNotFound: 5,
    _errors.ModelNotReady: 6,
    _errors.Overloaded: 7,
    _errors.DeadlineExceeded: 8,
    _errors.Unavailable: 9,
    _errors.Unauthenticated: 10,
    _errors.PermissionDenied: 11,
    _errors.InternalError: 12,
    _errors.Cancelled: 13,
}

DEFAULT_TIMEOUT = 30.0
DEFAULT_BATCH = 64
DEFAULT_PORT = 50051


# ------------------------------------------------------------------ arguments


FORMATS = "what a model accepts: `seqserve info MODEL` (its input line), or `seqserve models`"

EXAMPLES = {
    "models": ["seqserve models", "seqserve models --all", "seqserve models --json"],
    "info": ["seqserve info addition", "seqserve info reverse --version 1 --json"],
    "predict": [
        'seqserve predict addition "3+10"',
        "seqserve predict reverse 1 2 3 4 5 6",
        "printf '1+2\\n3+4\\n' | seqserve predict addition --file -",
    ],
    "stream": ["seqserve stream reverse 1 2 3 4 5 6"],
    "session": [
        "seqserve session recall                        (interactive; type help)",
        "seqserve session recall 3 0 1 2 --save s.json",
        "seqserve session recall --resume s.json 0",
    ],
    "health": ["seqserve health", "seqserve health --service seqserve.v1.SeqServe"],
    "load": ["seqserve load addition", "seqserve load addition --version 2"],
    "unload": ["seqserve unload addition", "seqserve unload addition --version 1"],
}


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    _add_connection(common, argparse.SUPPRESS)
    parser = argparse.ArgumentParser(
        prog="seqserve",
        description="Query a seqserve model server.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=f"{_examples(*(line for lines in EXAMPLES.values() for line in lines[:1]))}\n\n"
        + textwrap.fill(
            "exit codes: 0 ok, 1 not serving (health), 2 usage, 3 invalid input, "
            "4 model not found, 5 session not found, 6 model not ready, 7 overloaded, "
            "8 deadline exceeded, 9 unavailable, 10 unauthenticated, 11 permission denied, "
            "12 internal error, 13 cancelled, 130 interrupted.",
            width=80,
        ),
    )
    parser.add_argument(
        "--version", action="version", version=_version_text(), help="show versions and exit"
    )
    _add_connection(parser, None)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name: str, help_: str, formats: bool = False) -> argparse.ArgumentParser:
        epilog = _examples(*EXAMPLES[name]) + (f"\n\n{FORMATS}" if formats else "")
        return commands.add_parser(
            name,
            help=help_,
            description=help_,
            parents=[common],
            epilog=epilog,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )

    models = command("models", "list the models: name, kind, input, output, version, ready")
    models.add_argument(
        "--all",
        action="store_true",
        help="every version in the repository, loaded or not, with its state and reason "
        "(default: the loaded models)",
    )
    info = command("info", "show one model's manifest: what it accepts and answers")
    info.add_argument("name", help="model name (see `seqserve models`)")
    _add_version(info)

    predict = command(
        "predict", "predict for one input, or many from a file (one per line)", formats=True
    )
    predict.add_argument("name", help="model name (see `seqserve models`)")
    predict.add_argument("input", nargs="*", help='a text ("3+10") or numbers (1 2 3)')
    predict.add_argument(
        "--file", "-f", metavar="PATH", help="inputs one per line; - is stdin (default: none)"
    )
    predict.add_argument(
        "--batch-size",
        type=_positive,
        default=DEFAULT_BATCH,
        metavar="N",
        help=f"inputs of --file sent per call (default: {DEFAULT_BATCH})",
    )
    _add_version(predict)

    stream = command(
        "stream", "predict one input, printing symbols as they are decoded", formats=True
    )
    stream.add_argument("name", help="model name (see `seqserve models`)")
    stream.add_argument("input", nargs="+", help='a text ("3+10") or numbers (1 2 3)')
    _add_version(stream)

    session = command(
        "session",
        "a stateful session: symbols as arguments, from stdin, or an interactive prompt",
        formats=True,
    )
    session.add_argument("name", help="a stateful_step model (see `seqserve models`)")
    session.add_argument("symbols", nargs="*", help="symbols to step, or reset / snapshot / quit")
    session.add_argument(
        "--resume", metavar="FILE", help="resume from a saved snapshot (default: a new session)"
    )
    session.add_argument(
        "--save",
        metavar="FILE",
        help="save a snapshot at the end, also on Ctrl-C (default: not saved)",
    )
    session.add_argument(
        "--attach", metavar="ID", help="re-attach to a live session by id (default: a new one)"
    )
    _add_version(session)

    control = "(a server started with --model-control explicit; an admin token when tokens are on)"
    load = command("load", f"load or reload a model's versions, or one {control}")
    load.add_argument("name", help="model folder name in the server's repository")
    _add_version(load, "version to load (default: 0, every version the server keeps)")
    unload = command(
        "unload", f"unload a model, once its calls and sessions in flight end {control}"
    )
    unload.add_argument("name", help="model name (see `seqserve models`)")
    _add_version(unload, "version to unload (default: 0, every loaded version)")

    health = command("health", "the server's health; exit 0 when SERVING")
    health.add_argument("--service", default="", help="a service name (default: the whole server)")
    return parser


def _examples(*lines: str) -> str:
    return "examples:\n" + "\n".join(f"  {line}" for line in lines)


def _version_text() -> str:
    from importlib.metadata import PackageNotFoundError, version

    def of(package: str) -> str:
        try:
            return version(package)
        except PackageNotFoundError:
            return "not installed"

    return f"seqserve {of('seqserve-client')} (grpcio {of('grpcio')}, protobuf {of('protobuf')})"


def _add_connection(parser: argparse.ArgumentParser, default: str | None) -> None:
    def d(value: object) -> object:
        return value if default is None else default

    group = parser.add_argument_group("connection")
    group.add_argument(
        "--target",
        default=d(os.environ.get("SEQSERVE_TARGET", DEFAULT_TARGET)),
        help=f"host[:port] (port default {DEFAULT_PORT}), several comma-separated, or "
        f"dns:///name:port (env SEQSERVE_TARGET; default: {DEFAULT_TARGET})",
    )
    group.add_argument(
        "--timeout",
        type=_positive_seconds,
        default=d(DEFAULT_TIMEOUT),
        metavar="SECONDS",
        help=f"deadline of each call (default: {DEFAULT_TIMEOUT:g})",
    )
    group.add_argument(
        "--json", action="store_true", default=d(False), help="JSON output (default: text)"
    )
    group.add_argument(
        "--tls",
        action="store_true",
        default=d(False),
        help="TLS with the system's root certificates (default: plaintext)",
    )
    for flag, metavar, help_ in SETTINGS:
        group.add_argument(flag, default=d(None), metavar=metavar, help=help_)


# Connection options that take a value and default to none.
SETTINGS = (
    ("--tls-ca", "PEM", "TLS root certificates; implies --tls (default: the system's)"),
    ("--tls-cert", "PEM", "client certificate for mutual TLS, with --tls-key (default: none)"),
    ("--tls-key", "PEM", "client private key (default: none)"),
    (
        "--tls-server-name",
        "NAME",
        "the name the server certificate must carry (default: the target's host)",
    ),
    ("--token", "TOKEN", "bearer token (env SEQSERVE_TOKEN; default: none)"),
    ("--token-file", "PATH", "file holding the bearer token (default: none)"),
)


def _add_version(
    parser: argparse.ArgumentParser, help_: str = "model version (default: 0, the newest)"
) -> None:
    parser.add_argument("--version", type=int, default=0, help=help_)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be more than 0 seconds, got {text}")
    return value


def with_default_port(target: str, port: int = DEFAULT_PORT) -> str:
    """`localhost` -> `localhost:50051`: each host of a plain target gets the seqserve port."""
    if "://" in target or target.split(":", 1)[0] in ("dns", "ipv4", "ipv6", "unix"):
        return target
    return ",".join(_with_port(part.strip(), port) for part in target.split(",") if part.strip())


def _with_port(part: str, port: int) -> str:
    if part.startswith("["):  # [v6] or [v6]:port
        return part if "]:" in part else f"{part}:{port}"
    if part.count(":") > 1:  # a bare IPv6 address
        return f"[{part}]:{port}"
    return part if ":" in part else f"{part}:{port}"


def _tls(args: argparse.Namespace) -> TLS | None:
    if not (args.tls or args.tls_ca or args.tls_cert or args.tls_key):
        return None
    if bool(args.tls_cert) != bool(args.tls_key):
        raise inputs.UsageError("--tls-cert and --tls-key go together")
    return TLS(
        ca=args.tls_ca, cert=args.tls_cert, key=args.tls_key, server_name=args.tls_server_name
    )


def _token(args: argparse.Namespace) -> str | None:
    if args.token:
        return str(args.token)
    if args.token_file:
        try:
            return Path(args.token_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise inputs.UsageError(
                f"cannot read token file {args.token_file}: {exc.strerror}"
            ) from None
    return os.environ.get("SEQSERVE_TOKEN") or None


# ------------------------------------------------------------------ commands


def cmd_models(client: Client, args: argparse.Namespace) -> int:
    if args.all:
        return _print_versions(client.repository(), args.json)
    found = client.models()
    if args.json:
        print(_render.to_json([m.to_dict() for m in found]))
    elif found:
        print(_render.models(found))
    return EXIT_OK


def cmd_info(client: Client, args: argparse.Namespace) -> int:
    model = client.info(args.name, version=args.version)
    print(_render.to_json(model.to_dict()) if args.json else _render.info(model))
    return EXIT_OK


def _model_for(client: Client, args: argparse.Namespace) -> pb.ModelInfo:
    """The manifest of the model named on the command line, refused for the wrong command."""
    model = client.info(args.name, version=args.version)
    _cli_errors.check_command(model, args.command)
    return model.info


def cmd_predict(client: Client, args: argparse.Namespace) -> int:
    info = _model_for(client, args)
    if args.file is None:
        if not args.input:
            raise inputs.UsageError("give an input, or --file PATH (- for stdin)")
        item = cast(_wire.Item, inputs.parse_item(info, " ".join(args.input)))
        _print_prediction(client.predict(args.name, item, version=args.version), args.json)
        return EXIT_OK
    if args.input:
        raise inputs.UsageError("give inputs as arguments or with --file, not both")
    for chunk in inputs.chunks(inputs.lines(args.file), args.batch_size):
        items = [inputs.parse_item(info, line) for _, line in chunk]
        for (number, _), each in zip(chunk, items, strict=True):
            try:
                _wire.check(info, [each])
            except _errors.InvalidInput as exc:
                raise _errors.InvalidInput(f"line {number}: {exc.message}", exc.code) from None
        for result in client.predict(args.name, cast(_wire.Batch, items), version=args.version):
            _print_prediction(result, args.json)
    return EXIT_OK


def _print_prediction(result: Prediction, as_json: bool) -> None:
    print(_render.to_json(result.to_dict()) if as_json else _render.prediction(result), flush=True)


def cmd_stream(client: Client, args: argparse.Namespace) -> int:
    info = _model_for(client, args)
    item = cast(_wire.Item, inputs.parse_item(info, " ".join(args.input)))
    shown = 0
    for event in client.stream(args.name, item, version=args.version):
        if isinstance(event, Symbol):
            if args.json:
                print(_render.to_json({"symbol": event.to_dict()}), flush=True)
            else:
                print(_render.symbol(event, shown == 0), end="", flush=True)
            shown += 1
        elif isinstance(event, list):  # a batch result; the CLI streams one input
            for result in event:
                _print_prediction(result, args.json)
        elif args.json:
            print(_render.to_json({"result": event.to_dict()}), flush=True)
        elif shown:
            print(flush=True)
        else:
            _print_prediction(event, False)
    return EXIT_OK


def cmd_load(client: Client, args: argparse.Namespace) -> int:
    return _print_versions(client.load(args.name, version=args.version), args.json)


def cmd_unload(client: Client, args: argparse.Namespace) -> int:
    return _print_versions(client.unload(args.name, version=args.version), args.json)


def _print_versions(versions: list[ModelVersion], as_json: bool) -> int:
    if as_json:
        print(_render.to_json([v.to_dict() for v in versions]))
    elif versions:
        print(_render.versions(versions))
    return EXIT_OK


def cmd_health(client: Client, args: argparse.Namespace) -> int:
    health = client.health(args.service)
    print(_render.to_json({"status": health.status}) if args.json else health.status)
    return EXIT_OK if health.serving else EXIT_NOT_SERVING


COMMANDS: dict[str, Callable[[Client, argparse.Namespace], int]] = {
    "models": cmd_models,
    "info": cmd_info,
    "predict": cmd_predict,
    "stream": cmd_stream,
    "session": _cli_session.cmd_session,
    "health": cmd_health,
    "load": cmd_load,
    "unload": cmd_unload,
}


# ------------------------------------------------------------------ main


def exit_code(error: _errors.SeqServeError) -> int:
    for cls in type(error).__mro__:
        if cls in EXIT_CODES:
            return EXIT_CODES[cls]  # type: ignore[index]
    return EXIT_USAGE  # a SeqServeError of no class: a client-side setting was wrong


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse, letting inputs follow options too (`session recall --resume F 1 2`)."""
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    listed = {"predict": "input", "stream": "input", "session": "symbols"}.get(args.command)
    if extra and listed and not any(_is_option(word) for word in extra):
        setattr(args, listed, [*getattr(args, listed), *extra])
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    return args


def _is_option(word: str) -> bool:
    return word.startswith("-") and not isinstance(inputs.number(word), int | float)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    target = with_default_port(args.target)
    tls: TLS | None = None
    try:
        tls = _tls(args)
        with Client(target, timeout=args.timeout, tls=tls, token=_token(args)) as client:
            try:
                return COMMANDS[args.command](client, args)
            except _errors.ModelNotFound as exc:
                if getattr(args, "name", None) is None:
                    raise
                raise _cli_errors.suggest_model(exc, args.name, client.models) from None
    except _errors.SeqServeError as exc:
        return _fail(_cli_errors.explain(exc, target, tls is not None), exit_code(exc))
    except inputs.UsageError as exc:
        return _fail(str(exc), EXIT_USAGE)
    except KeyboardInterrupt:
        return _fail("interrupted", EXIT_INTERRUPTED)
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return EXIT_OK


def _fail(message: str, code: int) -> int:
    print(f"seqserve: error: {' '.join(message.split())}", file=sys.stderr, flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
