"""Stateful sessions: `(h, c)` per session on the server, bounded in count, evicted when idle.

A session starts from zeros (or from a client-held snapshot), steps one symbol at a time
through its model's `StepEngine` (whose batcher merges concurrent steps of different
sessions into one call), and can be reset, snapshotted, re-attached by id, and closed.

A session whose stream ended without closing it is kept for re-attaching by id: for the
idle timeout when the caller took a snapshot on that stream (it means to come back), else
for `detached_grace` seconds only, so callers that drop their streams (or a flood of
abandoned sessions) cannot hold `max_sessions` for the whole idle timeout.

`Sequences` names sessions by the caller's own sequence ids (the Open Inference Protocol's
sequence extension): the same store, the same limits and idle eviction.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np

from seqserve.server import metrics
from seqserve.server.engines import StepEngine, StepInput
from seqserve.server.errors import InvalidInput, Overloaded, SeqServeError, SessionNotFound
from seqserve.server.repository import ModelVersion
from seqserve.server.validation import ValidState

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class StepAnswer:
    symbol: int
    probabilities: tuple[float, ...]
    steps: int


@dataclass(frozen=True, slots=True)
class Snapshot:
    model: str
    version: int
    h: tuple[float, ...]
    c: tuple[float, ...]
    steps: int


@dataclass(eq=False)
class Session:
    id: str
    model: ModelVersion
    engine: StepEngine
    h: np.ndarray
    c: np.ndarray
    steps: int = 0
    last_used: float = field(default_factory=time.monotonic)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    idle_limit: float | None = None  # None: the store's idle timeout

    async def step(self, symbol: int) -> StepAnswer:
        async with self.lock:
            out = await self.engine.step(StepInput(symbol, self.h, self.c))
            self.h, self.c = out.h, out.c
            self.steps += 1
            self.last_used = time.monotonic()
            return StepAnswer(out.symbol, tuple(out.probabilities.tolist()), self.steps)

    def reset(self) -> None:
        self.h = self.engine.zeros()
        self.c = self.engine.zeros()
        self.steps = 0
        self.last_used = time.monotonic()

    def snapshot(self) -> Snapshot:
        self.last_used = time.monotonic()
        return Snapshot(
            self.model.name,
            self.model.version,
            tuple(self.h.tolist()),
            tuple(self.c.tolist()),
            self.steps,
        )


class SessionStore:
    def __init__(
        self, max_sessions: int, idle_timeout: float, detached_grace: float = 10.0
    ) -> None:
        self.detached_grace = detached_grace
        self.max_sessions = max_sessions
        self.idle_timeout = idle_timeout
        self._sessions: dict[str, Session] = {}
        metrics.watch_sessions(lambda: len(self._sessions))

    def __len__(self) -> int:
        return len(self._sessions)

    def open(self, model: ModelVersion, state: ValidState | None = None) -> Session:
        assert isinstance(model.engine, StepEngine)
        if len(self._sessions) >= self.max_sessions:
            self.evict_idle()
            if len(self._sessions) >= self.max_sessions:
                raise Overloaded(
                    f"session limit reached ({self.max_sessions} open; max_sessions); "
                    "close idle sessions"
                )
        engine = model.engine
        session = Session(secrets.token_hex(12), model, engine, engine.zeros(), engine.zeros())
        if state is not None:
            session.h, session.c, session.steps = state.h, state.c, state.steps
        self._sessions[session.id] = session
        metrics.session_opened()
        return session

    def get(self, session_id: str) -> Session:
        session = self._sessions.get(session_id)
        if session is None or self._idle(session, time.monotonic()):
            if self._sessions.pop(session_id, None) is not None:
                metrics.sessions_evicted(1)
            raise SessionNotFound(session_id)
        session.last_used = time.monotonic()
        session.idle_limit = None
        return session

    def detach(self, session_id: str) -> None:
        """The session's stream ended without a close or a snapshot: keep it for
        `detached_grace` seconds (from its last use) for a re-attach, no longer."""
        session = self._sessions.get(session_id)
        if session is not None:
            session.idle_limit = min(self.detached_grace, self.idle_timeout)

    def close(self, session_id: str) -> None:
        self._sessions.pop(session_id, None)

    def holding(self, model: ModelVersion) -> bool:
        """Whether an open session is on `model` (that version must stay loaded)."""
        return any(session.model is model for session in self._sessions.values())

    def _idle(self, session: Session, now: float) -> bool:
        limit = self.idle_timeout if session.idle_limit is None else session.idle_limit
        return not session.lock.locked() and now - session.last_used > limit

    def evict_idle(self) -> int:
        now = time.monotonic()
        idle = [sid for sid, s in self._sessions.items() if self._idle(s, now)]
        for sid in idle:
            del self._sessions[sid]
        metrics.sessions_evicted(len(idle))
        if idle:
            log.info("evicted %d idle sessions", len(idle))
        return len(idle)

    async def evict_forever(self) -> None:
        """Background task: sweep idle sessions a few times per timeout."""
        period = min(max(min(self.idle_timeout, self.detached_grace) / 4, 0.05), 30.0)
        while True:
            await asyncio.sleep(period)
            self.evict_idle()


SEQUENCE_START = "sequence_start"  # the request parameter that opens a sequence


class SequenceExpired(SessionNotFound):
    def __init__(self, model: str, sequence: str) -> None:
        SeqServeError.__init__(
            self,
            f"sequence {sequence!r} of model {model!r} was closed after idling; "
            f"start it again with {SEQUENCE_START}=true",
        )


class Sequences:
    """(model, sequence id) -> session id; at most `limit` remembered (least recent dropped,
    its session closed)."""

    def __init__(self, store: SessionStore, limit: int) -> None:
        self._store = store
        self._limit = limit
        self._sessions: OrderedDict[tuple[str, str], str] = OrderedDict()

    def __len__(self) -> int:
        return len(self._sessions)

    def open(self, model: ModelVersion, sequence: str) -> Session:
        """A fresh session for the sequence, closing any earlier one with the same id."""
        key = (model.name, sequence)
        self.close(*key)
        session = self._store.open(model)
        self._sessions[key] = session.id
        while len(self._sessions) > self._limit:
            _, oldest = self._sessions.popitem(last=False)
            self._store.close(oldest)
        return session

    def get(self, model: str, sequence: str) -> Session:
        key = (model, sequence)
        session_id = self._sessions.get(key)
        if session_id is None:
            raise InvalidInput(
                f"sequence {sequence!r} of model {model!r} is not open; "
                f"send {SEQUENCE_START}=true on its first request"
            )
        try:
            session = self._store.get(session_id)
        except SessionNotFound:
            del self._sessions[key]
            raise SequenceExpired(model, sequence) from None
        self._sessions.move_to_end(key)
        return session

    def close(self, model: str, sequence: str) -> None:
        session_id = self._sessions.pop((model, sequence), None)
        if session_id is not None:
            self._store.close(session_id)
