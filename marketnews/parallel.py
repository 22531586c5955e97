"""One plain map over worker processes: `parallel_map(work, context, items, jobs)`.

`work(context, item)` for every item, in order, and its values. With `jobs` above one
(and fork available) the items are shared among that many forked processes: `context`,
the frozen inputs every item needs (the articles, the renderer prepared for them), reaches
them through the fork, copied by nobody, and only items and values travel through pipes.
Otherwise, or for one item, the same calls run in this process. Either way the caller
sees the same values in the same order; the parent process keeps no state for it.

Each worker has a pipe of its own, and this process alone hands out the items and reads
the values: no lock is shared between processes, so no worker ended in the middle of
sending (by the end of the map, or by the system) can leave another process waiting on
it. A worker that dies without its values fails the map with an error naming it.
"""

from __future__ import annotations

import gc
import multiprocessing
import time
from collections.abc import Callable, Iterator, Sequence
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import Any, TypeVar, cast

from marketnews.errors import MarketnewsError

C = TypeVar("C")
T = TypeVar("T")
R = TypeVar("R")

FORK = "fork" in multiprocessing.get_all_start_methods()
AHEAD = 2  # items a worker holds: the next one is there when it finishes one, however busy this process is
GRACE_S = 5.0  # how long idle workers of a finished map have to end on their own before they are ended


class WorkerDied(MarketnewsError):
    """A worker process ended without sending the values of the items it had."""


def workers(jobs: int, n: int) -> int:
    """How many processes `parallel_map(..., items, jobs)` uses for `n` items: `jobs`, no
    more than there are items, or 1 (this process alone) without fork, with one job, or
    with one item."""
    return min(jobs, n) if FORK and jobs > 1 and n > 1 else 1


def _serve(conn: Connection, theirs: Sequence[Connection], work: Callable[[Any, Any], Any], context: Any,
           items: Sequence[Any]) -> None:
    """A worker: item numbers in, (number, ok, value or error) out, until its pipe closes
    (the map is over, or its process died: the worker ends rather than wait forever, as
    it closes first the other ends of the pipes it inherited, its own and the workers'
    before it)."""
    for other in theirs:
        other.close()
    while True:
        try:
            i = conn.recv()
        except EOFError:
            return
        try:
            reply: tuple[int, bool, Any] = (i, True, work(context, items[i]))
        except Exception as error:  # handed to the caller, who raises it
            reply = (i, False, error)
        try:
            conn.send(reply)
        except OSError:  # the map's process is gone
            return
        except Exception as error:  # a value or an error that cannot be sent
            conn.send((i, False, RuntimeError(f"{getattr(work, '__name__', work)}: {error!r}")))


def parallel_map(work: Callable[[C, T], R], context: C, items: Sequence[T], jobs: int) -> Iterator[R]:
    """`work(context, item)` for each of `items`, in order, in `workers(jobs, len(items))`
    processes; an error raised by `work` is raised here. No worker outlives the iteration:
    stopping early, or an error, ends them all."""
    n = workers(jobs, len(items))
    if n == 1:
        for item in items:
            yield work(context, item)
        return
    forked = multiprocessing.get_context("fork")
    links: dict[Connection, BaseProcess] = {}  # this process's end of each worker's pipe -> the worker
    given: dict[Connection, int] = {}  # items each worker holds
    try:
        # The workers leave the objects that exist at the fork out of their collections, so a
        # collection there does not write to (and so copy) every page of memory they share
        # with this process. This process collects them again (the dev server lives long).
        frozen = gc.get_freeze_count()  # the dev server freezes what it keeps between rebuilds
        gc.freeze()
        try:
            for _ in range(n):
                mine, theirs = forked.Pipe()
                process = forked.Process(target=_serve, args=(theirs, [*links, mine], work, context, items),
                                         daemon=True)
                process.start()
                theirs.close()
                links[mine], given[mine] = process, 0
        finally:
            if not frozen:
                gc.unfreeze()
        following = iter(range(len(items)))

        def died(conn: Connection) -> WorkerDied:
            process = links[conn]
            process.join()
            return WorkerDied(f"a worker process ({getattr(work, '__name__', work)}) ended (exit code "
                              f"{process.exitcode}) without sending its values; nothing was published")

        def hand(conn: Connection) -> None:
            i = next(following, None)
            if i is not None:
                try:
                    conn.send(i)
                except OSError:  # its end of the pipe is closed: it ended
                    raise died(conn) from None
                given[conn] += 1

        for _ in range(AHEAD):
            for conn in links:
                hand(conn)
        done: dict[int, R] = {}
        for wanted in range(len(items)):
            while wanted not in done:
                for conn in cast(list[Connection], wait([c for c in links if given[c]])):
                    try:
                        i, ok, value = conn.recv()
                    except (EOFError, OSError):
                        raise died(conn) from None
                    if not ok:
                        raise value
                    done[i] = value
                    given[conn] -= 1
                    hand(conn)
            yield done.pop(wanted)
    finally:
        # Each pipe closed: an idle worker sees it and ends on its own (every worker is idle
        # when the map has run to its end). One still at work (after an error, or when the
        # caller stopped early) is ended at once.
        idle = not any(given.values())
        for conn in links:
            conn.close()
        deadline = time.monotonic() + (GRACE_S if idle else 0.0)
        for worker in links.values():
            worker.join(max(0.0, deadline - time.monotonic()))
            if worker.is_alive():
                worker.terminate()
                worker.join()
