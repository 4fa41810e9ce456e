"""The outbox's rules, with the time passed in: write now or gather, flush, room, deadlines."""

from __future__ import annotations

import math

import pytest

from ssekit._outbox import (
    ALONE,
    BATCH_BYTES,
    BATCH_SECONDS,
    DUE,
    OPENED,
    WRITE_AT_ONCE,
    Outbox,
    Schedule,
)

T0 = 1000.0


def offer_many(outbox: Outbox, count: int, now: float, pen_free: bool = True) -> list[int]:
    return [outbox.offer(b"x", now, pen_free) for _ in range(count)]


def test_items_go_out_alone_up_to_a_rate_then_are_gathered() -> None:
    outbox = Outbox(65536)
    said = offer_many(outbox, WRITE_AT_ONCE + 2, T0)
    assert said[:WRITE_AT_ONCE] == [ALONE] * WRITE_AT_ONCE
    assert said[WRITE_AT_ONCE] == OPENED  # the first one past the rate opens a batch
    assert said[WRITE_AT_ONCE + 1] == 0  # gathered, not yet due
    assert outbox.size == 2


def test_the_rate_is_counted_per_window() -> None:
    outbox = Outbox(65536)
    offer_many(outbox, WRITE_AT_ONCE, T0)
    assert outbox.offer(b"x", T0 + BATCH_SECONDS, True) == ALONE  # a new window


def test_nothing_overtakes_what_is_already_waiting() -> None:
    outbox = Outbox(65536)
    assert outbox.offer(b"first", T0, pen_free=False) == OPENED  # the writer was busy
    assert outbox.offer(b"second", T0, pen_free=True) == 0  # it may not go ahead
    assert outbox.take() == b"firstsecond"


def test_a_batch_is_due_when_its_window_closes() -> None:
    outbox = Outbox(65536)
    assert outbox.offer(b"a", T0, False) == OPENED
    assert not outbox.due(T0 + BATCH_SECONDS / 2)
    assert outbox.offer(b"b", T0 + BATCH_SECONDS * 0.9, False) == 0
    assert outbox.due(T0 + BATCH_SECONDS)  # counted from the first item, not the last
    assert outbox.offer(b"c", T0 + BATCH_SECONDS, False) == DUE
    outbox.take()
    assert outbox.flush_at == math.inf
    assert outbox.offer(b"d", T0 + 5, False) == OPENED  # a new batch, a new window
    assert outbox.flush_at == T0 + 5 + BATCH_SECONDS


def test_a_full_batch_is_due_at_once() -> None:
    outbox = Outbox(65536)
    assert outbox.offer(b"x" * (BATCH_BYTES - 1), T0, False) == OPENED
    assert outbox.offer(b"y", T0, False) == DUE


def test_a_small_buffer_also_makes_smaller_batches() -> None:
    outbox = Outbox(100)
    assert outbox.offer(b"x" * 100, T0, False) == OPENED | DUE
    assert outbox.full()


def test_room_runs_out_at_max_buffer_and_comes_back_when_taken() -> None:
    outbox = Outbox(10)
    outbox.offer(b"12345", T0, False)
    assert not outbox.full()
    outbox.offer(b"67890", T0, False)
    assert outbox.full()
    assert outbox.take() == b"1234567890"
    assert not outbox.full() and outbox.size == 0


def test_take_keeps_order_and_hands_a_single_chunk_over_as_it_is() -> None:
    outbox = Outbox(65536)
    chunk = b"event: message\ndata: one\n\n"
    outbox.offer(chunk, T0, False)
    assert outbox.take() is chunk
    for part in (b"a", b"b", b"c"):
        outbox.add(part)
    assert outbox.size == 3
    assert outbox.take() == b"abc"
    assert outbox.take() == b"" and outbox.size == 0


def test_a_heartbeat_is_due_only_after_ping_seconds_of_silence() -> None:
    schedule = Schedule(ping=15.0, send_timeout=30.0, now=T0)
    assert not schedule.ping_due(T0 + 14.9, writing=False)
    assert schedule.ping_due(T0 + 15.0, writing=False)
    assert not schedule.ping_due(T0 + 15.0, writing=True)  # output is under way
    schedule.last_write = T0 + 10
    assert not schedule.ping_due(T0 + 15.0, writing=False)


def test_no_ping_means_no_heartbeat_ever() -> None:
    schedule = Schedule(ping=None, send_timeout=None, now=T0)
    assert not schedule.ping_due(T0 + 1e9, writing=False)
    assert schedule.wake_at(T0, writing=False) == math.inf


def test_a_write_is_overdue_after_send_timeout_and_only_while_it_lasts() -> None:
    schedule = Schedule(ping=15.0, send_timeout=5.0, now=T0)
    schedule.last_write = T0 + 1
    assert not schedule.overdue(T0 + 5.9, writing=True)
    assert schedule.overdue(T0 + 6.0, writing=True)
    assert not schedule.overdue(T0 + 100, writing=False)
    assert schedule.write_deadline(T0 + 2, writing=True) == T0 + 6
    assert schedule.write_deadline(T0 + 2, writing=False) == T0 + 7


def test_without_a_send_timeout_nothing_is_ever_overdue() -> None:
    schedule = Schedule(ping=15.0, send_timeout=None, now=T0)
    assert not schedule.overdue(T0 + 1e9, writing=True)


def test_an_earlier_stop_stands() -> None:
    schedule = Schedule(ping=15.0, send_timeout=30.0, now=T0)
    assert not schedule.stop_due(T0 + 1e6)
    schedule.stop(T0, grace=10)
    schedule.stop(T0, grace=20)
    assert not schedule.stop_due(T0 + 9.9)
    assert schedule.stop_due(T0 + 10)


@pytest.mark.parametrize(
    ("writing", "stop_grace", "expected"),
    [
        (False, None, T0 + 15.0),  # the heartbeat
        (True, None, T0 + 2 + 15.0),  # writing: no heartbeat before it ends; counted from now
        (False, 3.0, T0 + 2 + 3.0),  # the stop comes first
    ],
)
def test_the_idle_task_wakes_for_the_first_deadline(
    writing: bool, stop_grace: float | None, expected: float
) -> None:
    schedule = Schedule(ping=15.0, send_timeout=30.0, now=T0)
    if stop_grace is not None:
        schedule.stop(T0 + 2, stop_grace)
    assert schedule.wake_at(T0 + 2, writing) == expected


def test_the_idle_task_wakes_when_the_write_under_way_becomes_overdue() -> None:
    schedule = Schedule(ping=15.0, send_timeout=5.0, now=T0)
    schedule.last_write = T0 + 1
    assert schedule.wake_at(T0 + 2, writing=True) == T0 + 6
    # Idle with nothing being written: a write starting later has a later deadline.
    assert schedule.wake_at(T0 + 2, writing=False) == T0 + 7
