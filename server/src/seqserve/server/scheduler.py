"""Continuous (iteration-level) batching of greedy seq2seq decoding. Pure Python.

The scheduler decides, once per iteration, which sequences the engine runs; the engine
runs the graphs and reports what they produced. It imports neither grpc nor onnxruntime,
so its tests drive it step by step with made-up outputs.

Each iteration:

1. `schedule(now)` retires sequences whose deadline passed, admits waiting sequences
   (first come, first served) into free state slots, and returns a `Plan`: the newcomers
   (to run the encoder on, one batched call) and every active sequence with the symbol to
   feed the decoder (one batched step call). A newcomer is decoded in the same iteration
   it is admitted; it never waits for running sequences to finish.
2. `update(plan, symbols, confidences)` records one produced symbol per decoded row and
   retires the sequences that have all their symbols, freeing their slots.

`finish(ids, reason)` removes sequences at any time (cancelled callers, failures); rows
of a plan whose sequence has gone are ignored by `update`.

Bounds: at most `max_active` sequences decode together (one state slot each); at most
`max_waiting` wait for a slot; `add` past that raises `Overloaded`.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from seqserve.server.errors import Overloaded


@dataclass(slots=True)
class _Seq:
    id: int
    steps: int
    next_input: int
    deadline: float | None
    slot: int = -1
    symbols: list[int] = field(default_factory=list)
    confidences: list[float] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Row:
    """One row of a batched call: which sequence, its state slot, the symbol fed in."""

    seq_id: int
    slot: int
    symbol: int


@dataclass(frozen=True, slots=True)
class Plan:
    admitted: tuple[Row, ...]  # newcomers: run the encoder into these slots first
    decode: tuple[Row, ...]  # every active sequence, one decoder step each, in this order
    expired: tuple[int, ...]  # sequences retired because their deadline passed


@dataclass(frozen=True, slots=True)
class Event:
    """A symbol produced for a sequence; `done` on its last one."""

    seq_id: int
    position: int
    symbol: int
    confidence: float
    done: bool


class Scheduler:
    def __init__(self, max_active: int, max_waiting: int) -> None:
        self.max_active = max_active
        self.max_waiting = max_waiting
        self._waiting: OrderedDict[int, _Seq] = OrderedDict()
        self._active: dict[int, _Seq] = {}
        self._free_slots = list(range(max_active - 1, -1, -1))  # pop() gives slot 0 first

    # ------------------------------------------------------------ queries

    @property
    def active(self) -> int:
        return len(self._active)

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    @property
    def has_work(self) -> bool:
        return bool(self._active or self._waiting)

    def __contains__(self, seq_id: int) -> bool:
        return seq_id in self._active or seq_id in self._waiting

    def symbols(self, seq_id: int) -> tuple[list[int], list[float]]:
        seq = self._active.get(seq_id) or self._waiting[seq_id]
        return seq.symbols, seq.confidences

    # ------------------------------------------------------------ seam

    def add(
        self, seq_id: int, steps: int, start_symbol: int, deadline: float | None = None
    ) -> None:
        """Queue a sequence to decode `steps` symbols, starting from `start_symbol`."""
        if seq_id in self:
            raise ValueError(f"sequence {seq_id} already scheduled")
        if steps <= 0:
            raise ValueError("steps must be positive")
        if len(self._waiting) >= self.max_waiting:
            raise Overloaded(f"decode queue full ({self.max_waiting} sequences waiting)")
        self._waiting[seq_id] = _Seq(seq_id, steps, start_symbol, deadline)

    def schedule(self, now: float) -> Plan:
        expired = [
            s.id
            for s in (*self._active.values(), *self._waiting.values())
            if s.deadline is not None and s.deadline <= now
        ]
        self.finish(expired, "deadline")
        admitted: list[Row] = []
        while self._waiting and self._free_slots:
            _, seq = self._waiting.popitem(last=False)
            seq.slot = self._free_slots.pop()
            self._active[seq.id] = seq
            admitted.append(Row(seq.id, seq.slot, seq.next_input))
        decode = tuple(Row(s.id, s.slot, s.next_input) for s in self._active.values())
        return Plan(tuple(admitted), decode, tuple(expired))

    def update(
        self, plan: Plan, symbols: Sequence[int], confidences: Sequence[float]
    ) -> list[Event]:
        """Record the decoder's choice for each row of `plan.decode`; retire finished ones."""
        if len(symbols) != len(plan.decode) or len(confidences) != len(plan.decode):
            raise ValueError("one symbol and confidence per decoded row")
        events: list[Event] = []
        for row, symbol, confidence in zip(plan.decode, symbols, confidences, strict=True):
            seq = self._active.get(row.seq_id)
            if seq is None or seq.slot != row.slot:
                continue  # finished (e.g. cancelled) since the plan was made
            seq.symbols.append(symbol)
            seq.confidences.append(confidence)
            seq.next_input = symbol
            done = len(seq.symbols) >= seq.steps
            events.append(Event(seq.id, len(seq.symbols) - 1, symbol, confidence, done))
            if done:
                self._retire(seq)
        return events

    def finish(self, seq_ids: Iterable[int], reason: str) -> list[int]:
        """Remove sequences wherever they are; returns the ids that were present."""
        del reason  # kept in the seam for callers' logs and symmetry with engines
        removed: list[int] = []
        for seq_id in seq_ids:
            if self._waiting.pop(seq_id, None) is not None:
                removed.append(seq_id)
            elif (seq := self._active.get(seq_id)) is not None:
                self._retire(seq)
                removed.append(seq_id)
        return removed

    def _retire(self, seq: _Seq) -> None:
        del self._active[seq.id]
        self._free_slots.append(seq.slot)
        seq.slot = -1
