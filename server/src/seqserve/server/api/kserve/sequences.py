"""Triton's sequence extension: its request parameters, over the core's named sequences
(sessions of the store seqserve.v1.Session uses).

A stateful model takes one symbol per request. The request parameters `sequence_id`
(int64, uint64 or string), `sequence_start` and `sequence_end` say which sequence the
step belongs to: `sequence_start` opens a fresh session (closing any earlier one with the
same id), later requests step it, and `sequence_end` closes it after its step. Sessions
obey the store's limits and idle eviction; a stepped sequence whose session was evicted
gets NOT_FOUND.
"""

from __future__ import annotations

from seqserve.server.api.kserve import inputs
from seqserve.server.api.kserve.messages import pb as kpb
from seqserve.server.core import InferenceCore
from seqserve.server.errors import InvalidInput
from seqserve.server.repository import ModelVersion
from seqserve.server.results import ItemResult
from seqserve.server.sessions import SEQUENCE_START

SEQUENCE_ID = "sequence_id"
SEQUENCE_END = "sequence_end"


def sequence_id(request: kpb.ModelInferRequest) -> str:
    """The request's sequence id as text; empty when absent (0 and "" mean none)."""
    if SEQUENCE_ID not in request.parameters:
        return ""
    param = request.parameters[SEQUENCE_ID]
    which = param.WhichOneof("parameter_choice")
    if which == "string_param":
        return str(param.string_param)
    if which in ("int64_param", "uint64_param"):
        value = getattr(param, which)
        return str(value) if value else ""
    raise InvalidInput(f"parameter {SEQUENCE_ID} must be an integer or a string; got {which}")


def flag(request: kpb.ModelInferRequest, name: str) -> bool:
    if name not in request.parameters:
        return False
    param = request.parameters[name]
    if param.WhichOneof("parameter_choice") != "bool_param":
        raise InvalidInput(f"parameter {name} must be a bool")
    return bool(param.bool_param)


async def step(
    core: InferenceCore, model: ModelVersion, request: kpb.ModelInferRequest
) -> ItemResult:
    """One step of a stateful model's sequence, as the request's parameters say."""
    seq = sequence_id(request)
    if not seq:
        raise InvalidInput(
            f"model {model.name!r} is stateful: send parameter {SEQUENCE_ID}, with "
            f"{SEQUENCE_START}=true on the first request and {SEQUENCE_END}=true on the last"
        )
    answer = await core.step_sequence(
        model,
        seq,
        inputs.read_symbol(model.info, request),
        start=flag(request, SEQUENCE_START),
        end=flag(request, SEQUENCE_END),
    )
    probabilities = answer.probabilities
    return ItemResult(
        symbols=(answer.symbol,),
        confidence=(probabilities[answer.symbol],),
        probabilities=probabilities,
    )
