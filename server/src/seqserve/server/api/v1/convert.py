"""seqserve.v1 messages <-> core types. No logic beyond the mapping."""

from __future__ import annotations

from collections.abc import Callable

from seqserve.server.core import PredictAnswer
from seqserve.server.repository import ModelState
from seqserve.server.results import ItemResult, SymbolEvent
from seqserve.server.sessions import Snapshot, StepAnswer
from seqserve.v1 import seqserve_pb2 as pb


def model_status(state: ModelState) -> pb.ModelStatus:
    return pb.ModelStatus(
        info=state.info, ready=state.ready, reason=state.reason, versions=state.versions
    )


def answer(found: PredictAnswer) -> pb.PredictResponse:
    response = pb.PredictResponse(model=found.model, version=found.version)
    add_result = response.results.add  # builds each result in place, no copy
    for item in found.results:
        _fill_result(add_result, item, found.version)
    return response


def _fill_result(add_result: Callable[..., pb.Result], item: ItemResult, version: int) -> None:
    if item.value is not None:
        add_result(value=item.value, rounded=item.rounded, version=version)
        return
    if item.probabilities:  # an empty repeated field costs as much to pass as a full one
        message = add_result(
            confidence=item.confidence, probabilities=item.probabilities, version=version
        )
    else:
        message = add_result(confidence=item.confidence, version=version)
    if item.text is not None:
        message.text = item.text
    else:
        message.ints.values.extend(item.symbols)


def symbol(event: SymbolEvent) -> pb.PredictStreamResponse:
    return pb.PredictStreamResponse(
        symbol=pb.DecodedSymbol(
            item=event.item,
            position=event.position,
            symbol=event.symbol,
            text=event.text,
            confidence=event.confidence,
        )
    )


def step(found: StepAnswer) -> pb.SessionResponse:
    return pb.SessionResponse(
        step=pb.StepResult(
            symbol=found.symbol, probabilities=found.probabilities, steps=found.steps
        )
    )


def snapshot(found: Snapshot) -> pb.SessionResponse:
    return pb.SessionResponse(
        snapshot=pb.SessionState(
            model=found.model, version=found.version, h=found.h, c=found.c, steps=found.steps
        )
    )


def snapshot_from(state: pb.SessionState) -> Snapshot:
    """A client-held session state to resume from (checked by the core)."""
    return Snapshot(state.model, state.version, tuple(state.h), tuple(state.c), state.steps)
