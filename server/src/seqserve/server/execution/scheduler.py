"""Continuous (iteration-level) batching of greedy seq2seq decoding.

The scheduler decides, once per iteration, which sequences the engine runs; the engine
runs the graphs and reports what they produced. It imports neither grpc nor onnxruntime,
so its tests drive it step by step with made-up outputs.

Each iteration:

1. `schedule(now)` retires sequences whose deadline passed, admits waiting sequences
   (first come, first served) into free state slots, and returns a `Plan`: the newcomers
   (to run the encoder on, one batched call) and every active sequence with the symbol to
   feed the decoder (one batched step call), in slot order. A newcomer is decoded in the
   same iteration it is admitted; it never waits for running sequences to finish.
2. `update(plan, symbols, confidences)` records one produced symbol per decoded row and
   retires the sequences that have all their symbols, or just produced their end symbol
   (which is not kept in their answer), freeing their slots.

`finish(ids, reason)` removes sequences at any time (cancelled callers, failures); rows
of a plan whose sequence has gone are ignored by `update`.

The per-slot state (sequence id, next input, symbols so far, deadline) lives in NumPy
arrays, so an iteration costs a few array operations whatever the batch size; Python
work is per admitted and per finished sequence only. A newcomer takes the lowest free
slot, which keeps the active rows packed at the start of the engine's state arrays.

Bounds: at most `max_active` sequences decode together (one state slot each); at most
`max_waiting` wait for a slot; `add` past that raises `Overloaded`.
"""

from __future__ import annotations

import heapq
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from seqserve.server.errors import Overloaded

Ints = npt.NDArray[np.int64]
Reals = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class _Waiting:
    steps: int
    start: int
    deadline: float | None
    end: int | None


@dataclass(frozen=True, slots=True)
class Row:
    """A newcomer: which sequence, its state slot, the symbol it starts from."""

    seq_id: int
    slot: int
    symbol: int


@dataclass(frozen=True, slots=True)
class Plan:
    admitted: tuple[Row, ...]  # newcomers: run the encoder into these slots first
    slots: Ints  # every active sequence's state slot, ascending: one decoder row each
    ids: Ints  # the sequence in each of those slots
    inputs: Ints  # the symbol to feed each row
    expired: tuple[int, ...]  # sequences retired because their deadline passed

    @property
    def packed(self) -> slice | None:
        """The rows as one slice of the state arrays when their slots are consecutive."""
        n = len(self.slots)
        if n and int(self.slots[-1]) - int(self.slots[0]) + 1 == n:
            return slice(int(self.slots[0]), int(self.slots[0]) + n)
        return None


@dataclass(frozen=True, slots=True)
class Finished:
    """A sequence that produced its last symbol."""

    seq_id: int
    symbols: list[int]
    confidences: list[float]


@dataclass(frozen=True, slots=True)
class Progress:
    """What one decoder step produced: one entry per live row, then the sequences done."""

    ids: Ints
    positions: Ints  # the index of the symbol just produced in its sequence
    symbols: Ints
    confidences: Reals
    finished: tuple[Finished, ...]


class Scheduler:
    def __init__(self, max_active: int, max_waiting: int) -> None:
        self.max_active = max_active
        self.max_waiting = max_waiting
        self._waiting: OrderedDict[int, _Waiting] = OrderedDict()
        self._slot_of: dict[int, int] = {}  # active sequence -> its slot
        self._free: list[int] = list(range(max_active))  # a heap: lowest slot first
        self._ids: Ints = np.full(max_active, -1, dtype=np.int64)  # -1: free slot
        self._next: Ints = np.zeros(max_active, dtype=np.int64)
        self._made: Ints = np.zeros(max_active, dtype=np.int64)  # symbols produced so far
        self._steps: Ints = np.zeros(max_active, dtype=np.int64)
        self._end: Ints = np.full(max_active, -1, dtype=np.int64)  # -1: no end symbol
        self._deadline: Reals = np.full(max_active, np.inf)  # +inf: none (or free slot)
        self._symbols: Ints = np.zeros((max_active, 1), dtype=np.int64)
        self._confidences: Reals = np.zeros((max_active, 1), dtype=np.float64)

    # ------------------------------------------------------------ queries

    @property
    def active(self) -> int:
        return len(self._slot_of)

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    @property
    def has_work(self) -> bool:
        return bool(self._slot_of or self._waiting)

    def __contains__(self, seq_id: int) -> bool:
        return seq_id in self._slot_of or seq_id in self._waiting

    # ------------------------------------------------------------ seam

    def add(
        self,
        seq_id: int,
        steps: int,
        start_symbol: int,
        deadline: float | None = None,
        end_symbol: int | None = None,
    ) -> None:
        """Queue a sequence to decode `steps` symbols, starting from `start_symbol`; with
        `end_symbol` (>= 0), it ends sooner when it produces that symbol."""
        if seq_id in self:
            raise ValueError(f"sequence {seq_id} already scheduled")
        if steps <= 0:
            raise ValueError("steps must be positive")
        if end_symbol is not None and end_symbol < 0:
            raise ValueError("end_symbol must be a symbol (>= 0)")
        if len(self._waiting) >= self.max_waiting:
            raise Overloaded(f"decode queue full ({self.max_waiting} sequences waiting)")
        if steps > self._symbols.shape[1]:
            self._widen(steps)
        self._waiting[seq_id] = _Waiting(steps, start_symbol, deadline, end_symbol)

    def schedule(self, now: float) -> Plan:
        expired = [
            seq_id
            for seq_id, w in self._waiting.items()
            if w.deadline is not None and w.deadline <= now
        ]
        late = np.flatnonzero(self._deadline <= now)
        if late.size:
            expired.extend(self._ids[late].tolist())
        self.finish(expired, "deadline")
        admitted = self._admit() if self._waiting and self._free else ()
        slots = np.flatnonzero(self._ids >= 0)
        return Plan(tuple(admitted), slots, self._ids[slots], self._next[slots], tuple(expired))

    def update(
        self,
        plan: Plan,
        symbols: Sequence[int] | Ints,
        confidences: Sequence[float] | npt.NDArray[np.floating],
    ) -> Progress:
        """Record the decoder's choice for each row of the plan; retire finished ones."""
        chosen = np.asarray(symbols, dtype=np.int64)
        conf = np.asarray(confidences, dtype=np.float64)
        if chosen.shape != plan.slots.shape or conf.shape != plan.slots.shape:
            raise ValueError("one symbol and confidence per decoded row")
        slots, ids = plan.slots, plan.ids
        live = self._ids[slots] == ids  # rows of sequences finished since the plan was made
        if not live.all():
            slots, ids, chosen, conf = slots[live], ids[live], chosen[live], conf[live]
        positions = self._made[slots]
        self._symbols[slots, positions] = chosen
        self._confidences[slots, positions] = conf
        self._next[slots] = chosen
        self._made[slots] = positions + 1
        done = (positions + 1 >= self._steps[slots]) | (chosen == self._end[slots])
        finished = self._collect(slots[done]) if done.any() else ()
        return Progress(ids, positions, chosen, conf, finished)

    def finish(self, seq_ids: Iterable[int], reason: str) -> list[int]:
        """Remove sequences wherever they are; returns the ids that were present."""
        del reason  # kept in the seam for callers' logs and symmetry with engines
        removed: list[int] = []
        for seq_id in seq_ids:
            if self._waiting.pop(seq_id, None) is not None:
                removed.append(seq_id)
            elif seq_id in self._slot_of:
                self._retire(seq_id)
                removed.append(seq_id)
        return removed

    # ------------------------------------------------------------ slots

    def _admit(self) -> tuple[Row, ...]:
        """Waiting sequences into the lowest free slots, first come first served."""
        count = min(len(self._waiting), len(self._free))
        taken = [self._waiting.popitem(last=False) for _ in range(count)]
        slots = [heapq.heappop(self._free) for _ in range(count)]
        at = np.asarray(slots, dtype=np.int64)
        self._ids[at] = [seq_id for seq_id, _ in taken]
        self._next[at] = [w.start for _, w in taken]
        self._made[at] = 0
        self._steps[at] = [w.steps for _, w in taken]
        self._end[at] = [-1 if w.end is None else w.end for _, w in taken]
        self._deadline[at] = [np.inf if w.deadline is None else w.deadline for _, w in taken]
        self._slot_of.update(zip((seq_id for seq_id, _ in taken), slots, strict=True))
        return tuple(
            Row(seq_id, slot, w.start) for (seq_id, w), slot in zip(taken, slots, strict=True)
        )

    def _collect(self, slots: Ints) -> tuple[Finished, ...]:
        """Retire the sequences in `slots`, which have all their symbols (an end symbol
        produced last is left out)."""
        ids = self._ids[slots].tolist()
        made = self._made[slots]
        last = self._symbols[slots, made - 1]
        steps = (made - (last == self._end[slots])).tolist()
        symbols = self._symbols[slots].tolist()
        confidences = self._confidences[slots].tolist()
        self._release(slots)
        for seq_id in ids:
            del self._slot_of[seq_id]
        return tuple(
            Finished(seq_id, sym[:n], conf[:n])
            for seq_id, n, sym, conf in zip(ids, steps, symbols, confidences, strict=True)
        )

    def _retire(self, seq_id: int) -> None:
        self._release(np.asarray([self._slot_of.pop(seq_id)], dtype=np.int64))

    def _release(self, slots: Ints) -> None:
        self._ids[slots] = -1
        self._deadline[slots] = np.inf
        for slot in slots.tolist():
            heapq.heappush(self._free, slot)

    def _widen(self, steps: int) -> None:
        more = steps - self._symbols.shape[1]
        self._symbols = np.pad(self._symbols, ((0, 0), (0, more)))
        self._confidences = np.pad(self._confidences, ((0, 0), (0, more)))
