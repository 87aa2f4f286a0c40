"""`seqserve-server` / `python -m seqserve.server`: CLI, logging, signals.

`seqserve-server manifest PATH` writes the manifest the server would derive from a version
folder's lone `model.onnx` to `model.json` there, to review, pin and edit.
"""

from __future__ import annotations

import argparse
import asyncio
import enum
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from seqserve.server import eventloop, logs
from seqserve.server.errors import StartupError
from seqserve.server.settings import Settings


def build_parser() -> argparse.ArgumentParser:
    """One flag per settings field; unset flags fall back to SEQSERVE_* then the default."""
    parser = argparse.ArgumentParser(
        prog="seqserve-server",
        description="Serve the ONNX sequence models of a model repository over gRPC. "
        "Every flag can also be set as the environment variable shown.",
        argument_default=argparse.SUPPRESS,
    )
    for name, field in Settings.model_fields.items():
        flag = "--" + name.replace("_", "-")
        env = f"SEQSERVE_{name.upper()}"
        text = f"{field.description} [env {env}; default {_show(field.default)}]"
        annotation: Any = field.annotation
        if annotation is bool:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, help=text)
        elif isinstance(annotation, type) and issubclass(annotation, enum.Enum):
            parser.add_argument(flag, choices=[m.value for m in annotation], help=text)
        else:
            parser.add_argument(flag, metavar=name.split("_")[-1].upper(), help=text)
    return parser


def _show(value: object) -> str:
    return str(value.value) if isinstance(value, enum.Enum) else str(value)


def configure_logging(settings: Settings) -> None:
    """Human-readable lines, or JSON with --log-json; every line carries the request id."""
    logs.configure(settings.log_level, settings.log_json)


async def serve(settings: Settings) -> None:
    from seqserve.server.app import App  # grpc and onnxruntime load after argument parsing

    app = App(settings)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, app.request_stop)
    loop.add_signal_handler(signal.SIGHUP, app.request_reload)
    await app.start()
    await app.wait()
    await app.stop()


def manifest_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="seqserve-server manifest",
        description="Derive the manifest of a version folder's model.onnx (a tensor model: "
        "its inputs and outputs as the graph declares them, the file's SHA-256) and write it "
        "to model.json in that folder, so the server checks the file against it from then on.",
    )
    parser.add_argument(
        "path",
        type=Path,
        help="the version folder <repository>/<model>/<version>/ or its model.onnx",
    )
    parser.add_argument("--force", action="store_true", help="replace an existing model.json")
    parser.add_argument(
        "--stdout", action="store_true", help="print the manifest instead of writing it"
    )
    return parser


def manifest_main(argv: Sequence[str]) -> int:
    from seqserve.contract.manifest import MANIFEST, dump_manifest
    from seqserve.server.repository.checks import LoadError, check_no_external_data
    from seqserve.server.repository.derive import GRAPH, derive_manifest

    args = manifest_parser().parse_args(argv)
    folder: Path = args.path.parent if args.path.is_file() else args.path
    if not folder.name.isdigit():
        print(
            f"seqserve-server manifest: {folder} is not a version folder; the path is "
            "<repository>/<model>/<version>/ with an integer version",
            file=sys.stderr,
        )
        return 2
    try:
        check_no_external_data(folder / GRAPH)
        info = derive_manifest(folder, folder.parent.name, int(folder.name))
    except (LoadError, OSError) as exc:
        print(f"seqserve-server manifest: {folder}: {exc}", file=sys.stderr)
        return 1
    info.derived = False  # written down, it is the pinned manifest
    text = dump_manifest(info)
    if args.stdout:
        sys.stdout.write(text)
        return 0
    target = folder / MANIFEST
    if target.exists() and not args.force:
        print(f"seqserve-server manifest: {target} exists; --force replaces it", file=sys.stderr)
        return 1
    target.write_text(text, encoding="utf-8")
    print(f"wrote {target} (tensor model, {GRAPH} SHA-256 {info.graphs[0].sha256})")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["manifest"]:
        return manifest_main(argv[1:])
    args = vars(build_parser().parse_args(argv))
    try:
        settings = Settings(**args)
    except ValidationError as exc:
        print(f"seqserve-server: invalid settings:\n{exc}", file=sys.stderr)
        return 2
    configure_logging(settings)
    log = logging.getLogger("seqserve.server")
    try:
        loop = eventloop.choose(settings.event_loop)
        log.info("event loop: %s", loop.name)
        with asyncio.Runner(loop_factory=loop.factory) as runner:
            runner.run(serve(settings))
    except StartupError as exc:
        log.error("%s", exc)
        return 3
    except OSError as exc:
        log.error("cannot serve: %s", exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
