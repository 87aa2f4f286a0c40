"""The decode scheduler driven step by step with made-up decoder outputs."""

from __future__ import annotations

import pytest

from seqserve.server.errors import Overloaded
from seqserve.server.scheduler import Plan, Row, Scheduler


def step(
    s: Scheduler, now: float = 0.0, symbol: int = 7
) -> tuple[Plan, list[tuple[int, int, bool]]]:
    plan = s.schedule(now)
    events = s.update(plan, [symbol] * len(plan.decode), [0.5] * len(plan.decode))
    return plan, [(e.seq_id, e.symbol, e.done) for e in events]


def test_admits_and_decodes_a_newcomer_in_the_same_iteration() -> None:
    s = Scheduler(max_active=4, max_waiting=4)
    s.add(1, steps=3, start_symbol=0)
    plan = s.schedule(0.0)
    assert plan.admitted == (Row(1, 0, 0),)
    assert plan.decode == (Row(1, 0, 0),)
    assert plan.expired == ()


def test_feeds_back_the_chosen_symbol_and_retires_after_its_steps() -> None:
    s = Scheduler(max_active=4, max_waiting=4)
    s.add(1, steps=3, start_symbol=0)
    plan = s.schedule(0.0)
    assert [e.symbol for e in s.update(plan, [5], [0.9])] == [5]
    plan = s.schedule(0.0)
    assert plan.admitted == ()
    assert plan.decode == (Row(1, 0, 5),)  # fed back
    s.update(plan, [6], [0.8])
    plan = s.schedule(0.0)
    events = s.update(plan, [2], [0.7])
    assert [(e.position, e.symbol, e.done) for e in events] == [(2, 2, True)]
    assert s.active == 0 and not s.has_work


def test_newcomer_joins_running_batch_without_waiting_for_it() -> None:
    s = Scheduler(max_active=4, max_waiting=4)
    s.add(1, steps=3, start_symbol=0)
    step(s)
    s.add(2, steps=3, start_symbol=0)
    plan, events = step(s)
    assert [r.seq_id for r in plan.admitted] == [2]
    assert [r.seq_id for r in plan.decode] == [1, 2]
    assert [r.slot for r in plan.decode] == [0, 1]
    assert events == [(1, 7, False), (2, 7, False)]
    _, events = step(s)
    assert events == [(1, 7, True), (2, 7, False)]  # 1 retires, 2 keeps going
    plan, events = step(s)
    assert [r.seq_id for r in plan.decode] == [2]
    assert events == [(2, 7, True)]


def test_bounds_active_set_and_queue() -> None:
    s = Scheduler(max_active=2, max_waiting=2)
    s.add(1, 2, 0)
    s.add(2, 2, 0)
    plan, _ = step(s)
    assert [r.seq_id for r in plan.decode] == [1, 2]
    s.add(3, 2, 0)  # waits: no free slot
    s.add(4, 2, 0)
    with pytest.raises(Overloaded, match="2 sequences waiting"):
        s.add(5, 2, 0)
    plan, events = step(s)
    assert plan.admitted == ()
    assert [done for _, _, done in events] == [True, True]
    assert s.waiting == 2 and s.active == 0
    plan, _ = step(s)
    assert [(r.seq_id, r.slot) for r in plan.admitted] == [(3, 1), (4, 0)]  # freed slots reused


def test_cancellation_frees_the_slot_and_ignores_stale_rows() -> None:
    s = Scheduler(max_active=1, max_waiting=4)
    s.add(1, 3, 0)
    s.add(2, 3, 0)
    plan = s.schedule(0.0)
    assert [r.seq_id for r in plan.decode] == [1]
    assert s.finish([1], "cancelled") == [1]
    assert s.update(plan, [4], [0.1]) == []  # the row of a finished sequence is dropped
    plan = s.schedule(0.0)
    assert [(r.seq_id, r.slot) for r in plan.admitted] == [(2, 0)]
    assert s.finish([2, 99], "cancelled") == [2]
    assert not s.has_work


def test_cancelling_a_waiting_sequence() -> None:
    s = Scheduler(max_active=1, max_waiting=4)
    s.add(1, 3, 0)
    s.add(2, 3, 0)
    s.schedule(0.0)
    assert s.finish([2], "cancelled") == [2]
    assert s.waiting == 0 and s.active == 1


def test_deadline_expires_active_and_waiting_sequences() -> None:
    s = Scheduler(max_active=1, max_waiting=4)
    s.add(1, 3, 0, deadline=10.0)
    s.add(2, 3, 0, deadline=5.0)
    s.add(3, 3, 0)
    step(s, now=1.0)
    plan = s.schedule(now=10.0)
    assert sorted(plan.expired) == [1, 2]
    assert [r.seq_id for r in plan.admitted] == [3]


def test_rejects_duplicates_and_bad_outputs() -> None:
    s = Scheduler(max_active=1, max_waiting=1)
    s.add(1, 3, 0)
    with pytest.raises(ValueError, match="already"):
        s.add(1, 3, 0)
    plan = s.schedule(0.0)
    with pytest.raises(ValueError, match="one symbol"):
        s.update(plan, [], [])
