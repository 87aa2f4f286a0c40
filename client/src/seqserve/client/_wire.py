"""Request building and response conversion shared by `Client` and `AsyncClient`.

Both clients do I/O only (their shared state is `_base.BaseClient`); everything between
Python values and protobuf messages is here, once: input checking with `codecs` against
the cached manifest, batch detection, and turning responses into the `_results` types.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from seqserve.client._errors import InternalError, InvalidInput
from seqserve.client._results import Model, Prediction, Snapshot, Step, Symbol
from seqserve.contract import codecs
from seqserve.v1 import seqserve_pb2 as pb

Item = str | Sequence[int] | Sequence[float]
Batch = Sequence[str] | Sequence[Sequence[int]] | Sequence[Sequence[float]]
Inputs = Item | Batch


@dataclass(frozen=True)
class Prepared:
    """A checked predict request, and whether the caller gave a batch."""

    request: pb.PredictRequest
    batch: bool


def is_batch(x: object) -> bool:
    """A list whose elements are themselves inputs (strings or sequences) is a batch."""
    if isinstance(x, str | bytes) or not isinstance(x, Sequence) or len(x) == 0:
        return False
    return all(
        isinstance(e, str) or (isinstance(e, Sequence) and not isinstance(e, bytes)) for e in x
    )


def items_of(x: Inputs) -> tuple[list[Item], bool]:
    if is_batch(x):
        return list(x), True  # type: ignore[arg-type]
    return [x], False  # type: ignore[list-item]


def checkable(status: pb.ModelStatus) -> bool:
    """Whether a model's manifest can check input locally: ready, with an input spec."""
    return bool(status.ready) and status.info.input.kind != pb.DATA_KIND_UNSPECIFIED


def check(info: pb.ModelInfo, items: Sequence[object]) -> None:
    """Check every item with the shared codec; raise the server's message if one fails."""
    for index, item in enumerate(items):
        try:
            codecs.encode(info, item)
        except codecs.InputError as exc:
            raise InvalidInput(
                batch_message(str(exc), index, len(items)), "INVALID_ARGUMENT"
            ) from None


def batch_message(message: str, index: int, count: int) -> str:
    """The message for a failing item: as the codec says it, naming the item in a batch."""
    return message if count == 1 else f"input {index}: {message}"


def predict_request(info: pb.ModelInfo | None, name: str, x: Inputs, version: int) -> Prepared:
    """The request for `x`, checked with the manifest first when there is one."""
    items, batch = items_of(x)
    if info is not None:
        check(info, items)
    request = pb.PredictRequest(
        model=name, version=version, inputs=[codecs.to_message(item) for item in items]
    )
    return Prepared(request, batch)


def predictions(response: pb.PredictResponse, expected: int) -> list[Prediction]:
    results = [Prediction.from_message(response.model, r) for r in response.results]
    if len(results) != expected:
        raise InternalError(f"server answered {len(results)} results for {expected} inputs")
    return results


def shaped(results: list[Prediction], batch: bool) -> Prediction | list[Prediction]:
    return results if batch else results[0]


def stream_event(
    message: pb.PredictStreamResponse, prepared: Prepared
) -> Symbol | Prediction | list[Prediction]:
    which = message.WhichOneof("event")
    if which == "symbol":
        return Symbol.from_message(message.symbol)
    if which == "result":
        results = predictions(message.result, len(prepared.request.inputs))
        return shaped(results, prepared.batch)
    raise InternalError("server sent an empty stream event")


def models(response: pb.ListModelsResponse) -> list[Model]:
    return [Model.from_message(status) for status in response.models]


# ------------------------------------------------------------------ sessions


def session_open(
    name: str, version: int, snapshot: Snapshot | None, session_id: str | None
) -> pb.SessionRequest:
    open_ = pb.SessionOpen(model=name, version=version, session_id=session_id or "")
    if snapshot is not None:
        open_.state.CopyFrom(snapshot.to_message())
    return pb.SessionRequest(open=open_)


def session_attach(session_id: str) -> pb.SessionRequest:
    """Re-attach to a live session by id (after a failed call ended its stream)."""
    return pb.SessionRequest(open=pb.SessionOpen(session_id=session_id))


def session_step(info: pb.ModelInfo | None, symbol: object) -> pb.SessionRequest:
    if info is None:  # not checkable here: the server checks
        if isinstance(symbol, bool) or not isinstance(symbol, int):
            raise InvalidInput(f"a session symbol is an int; got {symbol!r}", "INVALID_ARGUMENT")
        return pb.SessionRequest(step=pb.SessionStep(symbol=symbol))
    try:
        value = codecs.encode_symbol(info, symbol)
    except codecs.InputError as exc:
        raise InvalidInput(str(exc), "INVALID_ARGUMENT") from None
    return pb.SessionRequest(step=pb.SessionStep(symbol=value))


RESET = pb.SessionRequest(reset=pb.SessionReset())
SNAPSHOT = pb.SessionRequest(snapshot=pb.SessionSnapshot())
CLOSE = pb.SessionRequest(close=pb.SessionClose())


def session_reply(message: pb.SessionResponse | None, expected: str) -> pb.SessionResponse:
    """The response to one session request, which must be of the `expected` kind."""
    if message is None:
        raise InternalError(f"session ended before its {expected} reply")
    which = message.WhichOneof("event")
    if which != expected:
        raise InternalError(f"session answered {which} to a {expected} request")
    return message


def opened(message: pb.SessionResponse | None) -> pb.SessionOpened:
    reply: pb.SessionOpened = session_reply(message, "opened").opened
    return reply


def step(message: pb.SessionResponse | None) -> Step:
    return Step.from_message(session_reply(message, "step").step)


def snapshot(message: pb.SessionResponse | None) -> Snapshot:
    return Snapshot.from_message(session_reply(message, "snapshot").snapshot)
