"""The inference core: the one admission point every protocol front-end calls.

A front-end converts wire messages to values, calls the core, and converts the answer back.
Everything between is here, once for every protocol: admission (refused while the models
load or the server drains), model resolution, validation into the immutable `ValidPredict`
(limits first, then the shared codecs), the call's absolute deadline, and opening, stepping
and closing sessions and named sequences. It owns the repository, the engines' lifecycles
and the session store, and answers with plain dataclasses; it knows nothing about gRPC.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncGenerator, Iterable, Sequence
from dataclasses import dataclass

from seqserve.server import ids, limits, validation
from seqserve.server.engines import Arrays, Engine, StepEngine, TensorEngine
from seqserve.server.engines.base import kind_name
from seqserve.server.errors import InvalidInput, ShuttingDown, Starting
from seqserve.server.execution.deadlines import within
from seqserve.server.repository import ModelState, ModelVersion, Repository
from seqserve.server.results import Final, ItemResult, StreamEvent
from seqserve.server.runtime import SessionFactory
from seqserve.server.sessions import Sequences, Session, SessionStore, Snapshot, StepAnswer
from seqserve.server.settings import Settings
from seqserve.server.totals import ModelTotals, Totals
from seqserve.server.validation import ValidPredict, ValidTensors
from seqserve.v1 import seqserve_pb2 as pb

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PredictAnswer:
    model: str
    version: int
    results: list[ItemResult]


class InferenceCore:
    def __init__(self, settings: Settings, factory: SessionFactory | None = None) -> None:
        self.settings = settings  # read to describe the configuration (KServe ModelConfig)
        self._sessions = SessionStore(
            settings.max_sessions, settings.session_idle_timeout, settings.session_detached_grace
        )
        self._totals = Totals()
        self.repository = Repository(
            settings,
            factory or SessionFactory(settings),
            self._totals,
            in_use=self._sessions.holding,
        )
        self._max_items = settings.max_batch_items
        self._max_length = settings.max_input_length
        self._default_budget = settings.default_deadline or None
        self.max_answer_bytes = settings.max_message_bytes  # an answer must fit in a message
        self._sequences = Sequences(self._sessions, settings.max_sessions)
        self.loaded = False
        self.draining = False
        self._evictor: asyncio.Task[None] | None = None

    # ------------------------------------------------------------ lifecycle

    async def load(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, self.repository.load_all)
        self.repository.start(loop)
        self._evictor = asyncio.create_task(self._sessions.evict_forever(), name="evict-sessions")
        self.loaded = True

    def drain(self) -> None:
        """Refuse new calls from now on; calls in flight finish."""
        self.draining = True

    async def close(self) -> None:
        if self._evictor is not None:
            self._evictor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._evictor
        await self.repository.close()

    @property
    def ready(self) -> bool:
        """Models loaded and not draining: new calls are admitted."""
        return self.loaded and not self.draining

    # ------------------------------------------------------------ models

    def totals(self, name: str) -> ModelTotals:
        """The model's cumulative queue and compute counters (every version, both protocols)."""
        return self._totals.of(name)

    def states(self) -> list[ModelState]:
        return self.repository.states()

    def state(self, name: str, version: int = 0) -> ModelState:
        return self.repository.state(ids.check("model name", name, ids.MAX_MODEL_NAME), version)

    # ------------------------------------------------------------ admission

    def admit(self, name: str, version: int = 0) -> ModelVersion:
        """The ready version a new call is for; refused while loading or draining."""
        if not self.loaded:
            raise Starting()
        if self.draining:
            raise ShuttingDown()
        return self.repository.resolve(ids.check("model name", name, ids.MAX_MODEL_NAME), version)

    def predict_request(
        self, model: ModelVersion, inputs: Sequence[pb.Input], time_remaining: float | None
    ) -> ValidPredict:
        """seqserve.v1 `Input` messages -> a validated request with its deadline."""
        return validation.predict_from_messages(
            model, inputs, self._max_items, self._max_length, self._deadline(time_remaining)
        )

    def values_request(
        self, model: ModelVersion, items: Sequence[object], time_remaining: float | None
    ) -> ValidPredict:
        """Plain values (strings, int or float lists) -> a validated request with its deadline."""
        return validation.predict_from_values(
            model, items, self._max_items, self._deadline(time_remaining)
        )

    def tensors_request(
        self, model: ModelVersion, arrays: Arrays, time_remaining: float | None
    ) -> ValidTensors:
        """A tensor model's inputs (of the graph's names, types, shapes) -> a validated
        request with its deadline."""
        return validation.tensors(model, arrays, self._max_items, self._deadline(time_remaining))

    def refuse_large_batch(self, info: pb.ModelInfo, count: int) -> None:
        """Refuse a batch size out of range on its declared count, before a front-end
        reads any of its items."""
        validation.check_batch(info, count, self._max_items)

    def refuse_long_inputs(self, sizes: Iterable[int], unit: str) -> None:
        """Refuse an input over `max_input_length` before a front-end decodes it (`unit`:
        what `sizes` count, for the message)."""
        limits.check_sizes(sizes, self._max_length, unit)

    def _deadline(self, time_remaining: float | None) -> float | None:
        """The monotonic time a call must finish by: its own budget or the default."""
        budget = time_remaining if time_remaining is not None else self._default_budget
        return None if budget is None else time.monotonic() + budget

    # ------------------------------------------------------------ predict

    async def predict(self, request: ValidPredict) -> PredictAnswer:
        # the engine keeps the deadline: it needs a timer only when the request waits
        results = await _engine(request.model).predict(request.items, request.deadline)
        return PredictAnswer(request.model.name, request.model.version, results)

    async def stream(
        self, request: ValidPredict
    ) -> AsyncGenerator[StreamEvent | PredictAnswer, None]:
        """Symbols as they are decoded, then the `PredictAnswer`."""
        engine = _engine(request.model)
        events = engine.stream(request.items, request.deadline)
        try:
            while True:
                async with within(request.deadline):  # never held across a yield
                    try:
                        event = await anext(events)
                    except StopAsyncIteration:
                        return
                if isinstance(event, Final):
                    yield PredictAnswer(request.model.name, request.model.version, event.results)
                else:
                    yield event
        finally:
            await events.aclose()

    async def infer_tensors(self, request: ValidTensors) -> Arrays:
        """A tensor model's outputs, by name, for validated inputs."""
        engine = _engine(request.model)
        if not isinstance(engine, TensorEngine):
            raise InvalidInput(f"{request.model.name} is a {kind_name(request.model.info)} model")
        return await engine.infer(request.arrays, request.rows, request.deadline)

    # ------------------------------------------------------------ sessions

    def open_session(self, model: ModelVersion, snapshot: Snapshot | None = None) -> Session:
        """A new session on `model`, from zeros or from a snapshot checked against it."""
        if self.draining:
            raise ShuttingDown()
        _check_stateful(model)
        state = None
        if snapshot is not None:
            if snapshot.model and snapshot.model != model.name:
                raise InvalidInput(
                    f"snapshot is of model {snapshot.model!r}, not {model.name!r}; open that model"
                )
            state = validation.session_state(model, snapshot.h, snapshot.c, snapshot.steps)
        return self._sessions.open(model, state)

    def attach_session(self, session_id: str, *, new_stream: bool = True) -> Session:
        """A live session by id; a stream already using it keeps it while draining."""
        if new_stream and not self.loaded:
            raise Starting()
        if self.draining and new_stream:
            raise ShuttingDown()
        return self._sessions.get(ids.check("session id", session_id, ids.MAX_SESSION_ID))

    async def step(self, session: Session, symbol: int) -> StepAnswer:
        return await session.step(validation.step_symbol(session.model, symbol))

    def close_session(self, session_id: str) -> None:
        self._sessions.close(session_id)

    def detach_session(self, session_id: str) -> None:
        """The session's stream ended without a close or a snapshot (see `SessionStore`)."""
        self._sessions.detach(session_id)

    async def step_sequence(
        self, model: ModelVersion, sequence: str, symbol: int, *, start: bool, end: bool
    ) -> StepAnswer:
        """One step of a named sequence: `start` opens it afresh, `end` closes it after.
        Everything is checked before the sequence is touched: a refused step changes
        nothing."""
        ids.check("sequence id", sequence, ids.MAX_SEQUENCE_ID)
        checked = validation.step_symbol(model, symbol)
        if start:
            _check_stateful(model)
            session = self._sequences.open(model, sequence)
        else:
            session = self._sequences.get(model.name, sequence)
        try:
            return await session.step(checked)
        finally:
            if end:
                self._sequences.close(model.name, sequence)


def _check_stateful(model: ModelVersion) -> None:
    if not isinstance(model.engine, StepEngine):
        raise InvalidInput(
            f"{model.name} is a {kind_name(model.info)} model; sessions need a "
            "stateful_step model (use Predict)"
        )


def _engine(model: ModelVersion) -> Engine:
    assert model.engine is not None  # admit() only returns ready versions
    return model.engine
