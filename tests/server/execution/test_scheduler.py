"""The decode scheduler driven step by step with made-up decoder outputs."""

from __future__ import annotations

import pytest

from seqserve.server.errors import Overloaded
from seqserve.server.execution.scheduler import Plan, Row, Scheduler


def step(
    s: Scheduler, now: float = 0.0, symbol: int = 7
) -> tuple[Plan, list[tuple[int, int, bool]]]:
    """One iteration; the events as (sequence, symbol, finished with this symbol)."""
    plan = s.schedule(now)
    n = len(plan.slots)
    progress = s.update(plan, [symbol] * n, [0.5] * n)
    done = {f.seq_id for f in progress.finished}
    pairs = zip(progress.ids.tolist(), progress.symbols.tolist(), strict=True)
    events = [(i, sym, i in done) for i, sym in pairs]
    return plan, events


def decoded(plan: Plan) -> list[tuple[int, int, int]]:
    """The plan's decoder rows as (sequence, slot, symbol fed)."""
    return list(zip(plan.ids.tolist(), plan.slots.tolist(), plan.inputs.tolist(), strict=True))


def test_admits_and_decodes_a_newcomer_in_the_same_iteration() -> None:
    s = Scheduler(max_active=4, max_waiting=4)
    s.add(1, steps=3, start_symbol=0)
    plan = s.schedule(0.0)
    assert plan.admitted == (Row(1, 0, 0),)
    assert decoded(plan) == [(1, 0, 0)]
    assert plan.expired == ()


def test_feeds_back_the_chosen_symbol_and_retires_after_its_steps() -> None:
    s = Scheduler(max_active=4, max_waiting=4)
    s.add(1, steps=3, start_symbol=0)
    plan = s.schedule(0.0)
    progress = s.update(plan, [5], [0.9])
    assert progress.symbols.tolist() == [5] and progress.finished == ()
    plan = s.schedule(0.0)
    assert plan.admitted == ()
    assert decoded(plan) == [(1, 0, 5)]  # fed back
    s.update(plan, [6], [0.8])
    plan = s.schedule(0.0)
    progress = s.update(plan, [2], [0.7])
    assert progress.positions.tolist() == [2]
    (done,) = progress.finished
    assert (done.seq_id, done.symbols, done.confidences) == (1, [5, 6, 2], [0.9, 0.8, 0.7])
    assert s.active == 0 and not s.has_work


def test_newcomer_joins_running_batch_without_waiting_for_it() -> None:
    s = Scheduler(max_active=4, max_waiting=4)
    s.add(1, steps=3, start_symbol=0)
    step(s)
    s.add(2, steps=3, start_symbol=0)
    plan, events = step(s)
    assert [r.seq_id for r in plan.admitted] == [2]
    assert plan.ids.tolist() == [1, 2]
    assert plan.slots.tolist() == [0, 1]
    assert plan.packed == slice(0, 2)  # consecutive slots: the state rows are one slice
    assert events == [(1, 7, False), (2, 7, False)]
    _, events = step(s)
    assert events == [(1, 7, True), (2, 7, False)]  # 1 retires, 2 keeps going
    plan, events = step(s)
    assert plan.ids.tolist() == [2]
    assert events == [(2, 7, True)]


def test_bounds_active_set_and_queue() -> None:
    s = Scheduler(max_active=2, max_waiting=2)
    s.add(1, 2, 0)
    s.add(2, 2, 0)
    plan, _ = step(s)
    assert plan.ids.tolist() == [1, 2]
    s.add(3, 2, 0)  # waits: no free slot
    s.add(4, 2, 0)
    with pytest.raises(Overloaded, match="2 sequences waiting"):
        s.add(5, 2, 0)
    plan, events = step(s)
    assert plan.admitted == ()
    assert [done for _, _, done in events] == [True, True]
    assert s.waiting == 2 and s.active == 0
    plan, _ = step(s)
    assert [(r.seq_id, r.slot) for r in plan.admitted] == [(3, 0), (4, 1)]  # freed slots reused


def test_newcomers_take_the_lowest_free_slots() -> None:
    s = Scheduler(max_active=4, max_waiting=4)
    for seq_id, steps in ((1, 1), (2, 3), (3, 1)):
        s.add(seq_id, steps, 0)
    step(s)  # 1 and 3 finish: slots 0 and 2 are free, 2 keeps slot 1
    s.add(4, 2, 0)
    plan = s.schedule(0.0)
    assert plan.admitted == (Row(4, 0, 0),)
    assert plan.slots.tolist() == [0, 1] and plan.packed == slice(0, 2)
    s.add(5, 2, 0)
    s.add(6, 2, 0)
    s.update(plan, [1, 1], [0.5, 0.5])
    plan = s.schedule(0.0)
    assert [r.slot for r in plan.admitted] == [2, 3]
    s.finish([4], "cancelled")  # a hole at slot 0
    plan = s.schedule(0.0)
    assert plan.slots.tolist() == [1, 2, 3] and plan.packed == slice(1, 4)
    s.finish([5], "cancelled")
    plan = s.schedule(0.0)
    assert plan.slots.tolist() == [1, 3] and plan.packed is None  # rows gathered


def test_cancellation_frees_the_slot_and_ignores_stale_rows() -> None:
    s = Scheduler(max_active=1, max_waiting=4)
    s.add(1, 3, 0)
    s.add(2, 3, 0)
    plan = s.schedule(0.0)
    assert plan.ids.tolist() == [1]
    assert s.finish([1], "cancelled") == [1]
    progress = s.update(plan, [4], [0.1])
    assert progress.ids.tolist() == [] and progress.finished == ()  # the stale row is dropped
    plan = s.schedule(0.0)
    assert [(r.seq_id, r.slot) for r in plan.admitted] == [(2, 0)]
    assert s.finish([2, 99], "cancelled") == [2]
    assert not s.has_work


def test_a_stale_row_does_not_write_into_its_slots_new_sequence() -> None:
    s = Scheduler(max_active=1, max_waiting=4)
    s.add(1, 2, 0)
    old = s.schedule(0.0)
    s.finish([1], "cancelled")
    s.add(2, 2, 0)
    new = s.schedule(0.0)  # sequence 2 now owns slot 0
    assert new.admitted == (Row(2, 0, 0),)
    assert s.update(old, [9], [0.9]).ids.tolist() == []
    progress = s.update(new, [3], [0.3])
    assert progress.ids.tolist() == [2] and progress.positions.tolist() == [0]
    plan = s.schedule(0.0)
    (done,) = s.update(plan, [4], [0.4]).finished
    assert done.symbols == [3, 4]


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


def test_end_symbol_retires_a_sequence_early_without_keeping_it() -> None:
    s = Scheduler(max_active=4, max_waiting=4)
    s.add(1, steps=5, start_symbol=9, end_symbol=0)
    s.add(2, steps=5, start_symbol=9)  # no end symbol: 0 is an ordinary symbol
    plan = s.schedule(0.0)
    s.update(plan, [4, 0], [0.9, 0.8])
    plan = s.schedule(0.0)
    assert decoded(plan) == [(1, 0, 4), (2, 1, 0)]
    progress = s.update(plan, [0, 3], [0.6, 0.5])
    (done,) = progress.finished
    assert (done.seq_id, done.symbols, done.confidences) == (1, [4], [0.9])
    assert progress.symbols.tolist() == [0, 3]  # the end was produced, then dropped
    plan = s.schedule(0.0)
    assert decoded(plan) == [(2, 1, 3)]  # its slot freed; the other decodes on


def test_end_symbol_first_gives_an_empty_answer_and_steps_still_bound() -> None:
    s = Scheduler(max_active=4, max_waiting=4)
    s.add(1, steps=2, start_symbol=0, end_symbol=5)
    s.add(2, steps=2, start_symbol=0, end_symbol=5)
    plan = s.schedule(0.0)
    progress = s.update(plan, [5, 1], [0.9, 0.9])
    assert [(f.seq_id, f.symbols) for f in progress.finished] == [(1, [])]
    plan = s.schedule(0.0)
    progress = s.update(plan, [2], [0.9])
    assert [(f.seq_id, f.symbols) for f in progress.finished] == [(2, [1, 2])]  # at `steps`


def test_end_symbol_must_be_a_symbol() -> None:
    with pytest.raises(ValueError, match="end_symbol"):
        Scheduler(max_active=1, max_waiting=1).add(1, steps=2, start_symbol=0, end_symbol=-1)
