"""seqserve.v1 messages <-> core types. No logic beyond the mapping."""

from __future__ import annotations

from seqserve.server.core import PredictAnswer
from seqserve.server.engines import ItemResult, SymbolEvent
from seqserve.server.repository import ModelState
from seqserve.server.sessions import Snapshot, StepAnswer
from seqserve.v1 import seqserve_pb2 as pb


def model_status(state: ModelState) -> pb.ModelStatus:
    return pb.ModelStatus(
        info=state.info, ready=state.ready, reason=state.reason, versions=state.versions
    )


def result(item: ItemResult, version: int) -> pb.Result:
    if item.value is not None:
        return pb.Result(value=item.value, rounded=item.rounded, version=version)
    message = pb.Result(
        confidence=item.confidence, probabilities=item.probabilities, version=version
    )
    if item.text is not None:
        message.text = item.text
    else:
        message.ints.values.extend(item.symbols)
    return message


def answer(found: PredictAnswer) -> pb.PredictResponse:
    return pb.PredictResponse(
        model=found.model,
        version=found.version,
        results=[result(item, found.version) for item in found.results],
    )


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
