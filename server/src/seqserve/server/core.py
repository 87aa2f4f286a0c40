"""The inference core: what every protocol front-end calls (seqserve.v1 today, KServe later).

It owns the repository, the engines' lifecycles and the session store; it takes validated
requests and answers with plain dataclasses. It knows nothing about gRPC.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncGenerator
from dataclasses import dataclass

from seqserve.server.engines import Engine, StepEngine
from seqserve.server.engines.base import kind_name
from seqserve.server.errors import InvalidInput, ShuttingDown
from seqserve.server.execution.deadlines import within
from seqserve.server.repository import ModelState, ModelVersion, Repository
from seqserve.server.results import Final, ItemResult, StreamEvent
from seqserve.server.runtime import SessionFactory
from seqserve.server.sessions import Session, SessionStore
from seqserve.server.settings import Settings
from seqserve.server.validation import ValidPredict, ValidState

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PredictAnswer:
    model: str
    version: int
    results: list[ItemResult]


class InferenceCore:
    def __init__(self, settings: Settings, factory: SessionFactory | None = None) -> None:
        self.settings = settings
        self.repository = Repository(settings, factory or SessionFactory(settings))
        self.sessions = SessionStore(settings.max_sessions, settings.session_idle_timeout)
        self.loaded = False
        self.draining = False
        self._evictor: asyncio.Task[None] | None = None

    # ------------------------------------------------------------ lifecycle

    async def load(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, self.repository.load_all)
        self.repository.start(loop)
        self._evictor = asyncio.create_task(self.sessions.evict_forever(), name="evict-sessions")
        self.loaded = True

    def drain(self) -> None:
        """Refuse new calls from now on; calls in flight finish."""
        self.draining = True

    async def close(self) -> None:
        if self._evictor is not None:
            self._evictor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._evictor
        await asyncio.get_running_loop().run_in_executor(None, self.repository.stop)

    # ------------------------------------------------------------ models

    def resolve(self, name: str, version: int = 0) -> ModelVersion:
        if self.draining:
            raise ShuttingDown()
        return self.repository.resolve(name, version)

    def states(self) -> list[ModelState]:
        return self.repository.states()

    def state(self, name: str, version: int = 0) -> ModelState:
        return self.repository.state(name, version)

    def deadline(self, time_remaining: float | None) -> float | None:
        """The monotonic time a call must finish by: its own deadline or the default."""
        default = self.settings.default_deadline or None
        budget = time_remaining if time_remaining is not None else default
        return None if budget is None else time.monotonic() + budget

    # ------------------------------------------------------------ predict

    async def predict(self, request: ValidPredict) -> PredictAnswer:
        # the engine keeps the deadline: it needs a timer only when the request waits
        results = await _engine(request.model).predict(request.items, request.deadline)
        return PredictAnswer(request.model.name, request.model.version, results)

    async def stream(
        self, request: ValidPredict
    ) -> AsyncGenerator[StreamEvent | PredictAnswer, None]:
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

    # ------------------------------------------------------------ sessions

    def open_session(self, model: ModelVersion, state: ValidState | None = None) -> Session:
        if self.draining:
            raise ShuttingDown()
        if not isinstance(model.engine, StepEngine):
            raise InvalidInput(
                f"{model.name} is a {kind_name(model.info)} model; sessions need a "
                "stateful_step model (use Predict)"
            )
        return self.sessions.open(model, state)

    def attach_session(self, session_id: str, *, new_stream: bool = True) -> Session:
        """A live session by id; a stream already using it keeps it while draining."""
        if self.draining and new_stream:
            raise ShuttingDown()
        return self.sessions.get(session_id)


def _engine(model: ModelVersion) -> Engine:
    assert model.engine is not None  # resolve() only returns ready versions
    return model.engine
