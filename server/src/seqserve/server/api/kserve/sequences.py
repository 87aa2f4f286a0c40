"""Triton's sequence extension over the core's session store (the one seqserve.v1.Session uses).

A stateful model takes one symbol per request. The request parameters `sequence_id`
(int64, uint64 or string), `sequence_start` and `sequence_end` say which sequence the
step belongs to: `sequence_start` opens a fresh session (closing any earlier one with the
same id), later requests step it, and `sequence_end` closes it after its step. Sessions
obey the store's limits and idle eviction; a stepped sequence whose session was evicted
gets NOT_FOUND.
"""

from __future__ import annotations

from collections import OrderedDict

from seqserve.server import validation
from seqserve.server.api.kserve import inputs
from seqserve.server.api.kserve.messages import pb as kpb
from seqserve.server.core import InferenceCore
from seqserve.server.errors import InvalidInput, SeqServeError, SessionNotFound
from seqserve.server.repository import ModelVersion
from seqserve.server.results import ItemResult
from seqserve.server.sessions import Session

SEQUENCE_ID = "sequence_id"
SEQUENCE_START = "sequence_start"
SEQUENCE_END = "sequence_end"


class SequenceExpired(SessionNotFound):
    def __init__(self, model: str, sequence: str) -> None:
        SeqServeError.__init__(
            self,
            f"sequence {sequence!r} of model {model!r} was closed after idling; "
            f"start it again with {SEQUENCE_START}=true",
        )


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


class Sequences:
    """Sequence ids -> session ids; at most `max_sessions` remembered (least recent dropped)."""

    def __init__(self, core: InferenceCore) -> None:
        self._core = core
        self._limit = core.settings.max_sessions
        self._sessions: OrderedDict[tuple[str, str], str] = OrderedDict()

    def __len__(self) -> int:
        return len(self._sessions)

    async def step(self, model: ModelVersion, request: kpb.ModelInferRequest) -> ItemResult:
        seq = sequence_id(request)
        if not seq:
            raise InvalidInput(
                f"model {model.name!r} is stateful: send parameter {SEQUENCE_ID}, with "
                f"{SEQUENCE_START}=true on the first request and {SEQUENCE_END}=true on the last"
            )
        symbol = validation.step_symbol(model, inputs.read_symbol(model.info, request))
        key = (model.name, seq)
        session = self._open(model, key) if flag(request, SEQUENCE_START) else self._attach(key)
        try:
            answer = await session.step(symbol)
        finally:
            if flag(request, SEQUENCE_END):
                self._close(key)
        probabilities = answer.probabilities
        return ItemResult(
            symbols=(answer.symbol,),
            confidence=(probabilities[answer.symbol],),
            probabilities=probabilities,
        )

    def _open(self, model: ModelVersion, key: tuple[str, str]) -> Session:
        self._close(key)
        session = self._core.open_session(model)
        self._sessions[key] = session.id
        while len(self._sessions) > self._limit:
            _, oldest = self._sessions.popitem(last=False)
            self._core.sessions.close(oldest)
        return session

    def _attach(self, key: tuple[str, str]) -> Session:
        session_id = self._sessions.get(key)
        if session_id is None:
            raise InvalidInput(
                f"sequence {key[1]!r} of model {key[0]!r} is not open; "
                f"send {SEQUENCE_START}=true on its first request"
            )
        try:
            session = self._core.attach_session(session_id)
        except SessionNotFound:
            del self._sessions[key]
            raise SequenceExpired(*key) from None
        self._sessions.move_to_end(key)
        return session

    def _close(self, key: tuple[str, str]) -> None:
        session_id = self._sessions.pop(key, None)
        if session_id is not None:
            self._core.sessions.close(session_id)
