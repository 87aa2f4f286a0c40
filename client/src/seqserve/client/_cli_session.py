"""`seqserve session`: symbols from arguments or stdin, or an interactive prompt."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from seqserve.client import _errors, _render
from seqserve.client._cli_errors import check_command
from seqserve.client._cli_inputs import UsageError, number
from seqserve.client._client import Client, Session
from seqserve.client._results import Model, Snapshot

WORDS = "'help', 'reset', 'snapshot', 'quit'"


def cmd_session(client: Client, args: argparse.Namespace) -> int:
    """Step the symbols given (or read from stdin); at a terminal with none, prompt.

    `--save` writes the snapshot when the session ends, also on Ctrl-C.
    """
    model = client.info(args.name, version=args.version)
    check_command(model, "session")
    snapshot = _read_snapshot(args.resume) if args.resume else None
    interactive = not args.symbols and sys.stdin.isatty()
    with client.session(
        args.name, version=args.version, snapshot=snapshot, session_id=args.attach
    ) as session:
        try:
            if interactive:
                _interactive(session, model, args.json)
            else:
                words = args.symbols or [w for line in sys.stdin for w in line.split()]
                for word in words:
                    if not _session_word(session, model, word, args.json):
                        break
        except KeyboardInterrupt:
            if args.save:
                _write_snapshot(args.save, session.snapshot())
                print(f"\nsnapshot saved to {args.save}", file=sys.stderr, flush=True)
            raise
        if args.save:
            _write_snapshot(args.save, session.snapshot())
    return 0


def _session_word(session: Session, model: Model, word: str, as_json: bool) -> bool:
    """Act on one word of a session; False when the word ends the session."""
    command = word.strip().lower()
    if command in ("quit", "exit", "q"):
        return False
    if command in ("help", "?"):
        print(_help(model), file=sys.stderr, flush=True)
    elif command == "reset":
        session.reset()
    elif command == "snapshot":
        print(session.snapshot().to_json(), flush=True)
    else:
        symbol = number(word)
        result = session.step(symbol)  # type: ignore[arg-type]
        print(
            _render.step_json(int(symbol), result) if as_json else _render.step(result), flush=True
        )
    return True


def _help(model: Model) -> str:
    return (
        f"{model.name} session: type a symbol ({model.input}) to step; the answer is the "
        "predicted next symbol. Several symbols on one line step in order.\n"
        "  reset     zero the state\n"
        "  snapshot  print the state as JSON (resume with --resume FILE)\n"
        "  help      this text\n"
        "  quit      end the session (also Ctrl-D)"
    )


def _interactive(session: Session, model: Model, as_json: bool) -> None:
    print(
        f"{model.name} session {session.id}: one symbol per line gives the predicted next "
        f"symbol; {WORDS}",
        file=sys.stderr,
    )
    while True:
        try:
            line = input("> ")
        except EOFError:
            print(file=sys.stderr)
            return
        for word in line.split():
            try:
                if not _session_word(session, model, word, as_json):
                    return
            except _errors.InvalidInput as exc:
                print(f"seqserve: error: {exc.message}", file=sys.stderr, flush=True)
                continue
            if word.lower() == "reset":
                print("state reset", file=sys.stderr, flush=True)


def _read_snapshot(path: str) -> Snapshot:
    try:
        return Snapshot.from_json(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"cannot read snapshot {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise UsageError(f"{path} is not a session snapshot: {exc}") from None


def _write_snapshot(path: str, snapshot: Snapshot) -> None:
    try:
        Path(path).write_text(snapshot.to_json() + "\n", encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write snapshot {path}: {exc.strerror}") from None
