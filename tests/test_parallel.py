"""The map over worker processes: values in order, errors raised, and no worker left
behind or waited on forever, whatever a worker does."""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
from collections.abc import Callable
from typing import Any

import pytest

from marketnews import parallel
from marketnews.errors import MarketnewsError
from marketnews.parallel import WorkerDied, parallel_map

pytestmark = pytest.mark.skipif(not parallel.FORK, reason="worker processes are forked")


def within(seconds: float, run: Callable[[], Any]) -> Any:
    """`run()`, failing the test rather than hanging it if it takes longer than `seconds`."""
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = run()
        except BaseException as error:  # noqa: BLE001 - handed to the test
            outcome["error"] = error

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still running after {seconds} s"
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def square(context: int, item: int) -> tuple[int, int]:
    return item, item * item + context


def big_or_broken(context: int, item: int) -> bytes:
    if item == context:
        raise MarketnewsError(f"item {item} is broken")
    return bytes(2_000_000)  # more than a pipe holds: its worker is sending while the other fails


def dies(context: int, item: int) -> int:
    if item == context:
        os.kill(os.getpid(), signal.SIGKILL)
    return item


def test_values_come_back_in_order_from_every_worker() -> None:
    values = within(30, lambda: list(parallel_map(square, 1, range(50), 2)))
    assert values == [(i, i * i + 1) for i in range(50)]
    assert not multiprocessing.active_children()


def test_an_error_in_a_worker_is_raised_while_others_send_and_no_worker_is_left() -> None:
    # With one queue shared by every worker, a worker ended in the middle of sending its
    # value could leave the map waiting forever on the queue's lock.
    for broken in (0, 3, 7, 11):
        with pytest.raises(MarketnewsError, match=f"item {broken} is broken"):
            within(60, lambda broken=broken: list(parallel_map(big_or_broken, broken, range(12), 2)))
        assert not multiprocessing.active_children()


def test_a_worker_killed_fails_the_map_with_an_error_rather_than_waiting_for_it() -> None:
    with pytest.raises(WorkerDied, match=r"a worker process \(dies\) ended \(exit code -9\)"):
        within(30, lambda: list(parallel_map(dies, 5, range(20), 2)))
    assert not multiprocessing.active_children()


def test_stopping_early_ends_every_worker() -> None:
    def first_three() -> list[tuple[int, int]]:
        values = parallel_map(square, 0, range(40), 2)
        taken = [next(values) for _ in range(3)]
        values.close()
        return taken

    assert within(30, first_three) == [(0, 0), (1, 1), (2, 4)]
    assert not multiprocessing.active_children()


def test_a_map_that_ends_lets_its_workers_end_on_their_own(monkeypatch: pytest.MonkeyPatch) -> None:
    # Idle workers see their pipes close and return: none is ended by a signal, which is
    # kept for a worker still at work after an error or an early stop.
    started: list[multiprocessing.process.BaseProcess] = []
    start = multiprocessing.process.BaseProcess.start

    def recorded(process: multiprocessing.process.BaseProcess) -> None:
        started.append(process)
        start(process)

    monkeypatch.setattr(multiprocessing.process.BaseProcess, "start", recorded)
    for _ in range(5):
        started.clear()
        assert within(30, lambda: list(parallel_map(square, 0, range(40), 2))) == [(i, i * i) for i in range(40)]
        assert [process.exitcode for process in started] == [0, 0]


def test_no_more_workers_than_items() -> None:
    assert [parallel.workers(jobs, n) for jobs, n in ((8, 3), (2, 40), (1, 40), (4, 1), (99_999, 2))] == \
        ([3, 2, 1, 1, 2] if parallel.FORK else [1, 1, 1, 1, 1])
