"""One plain map over worker processes: `parallel_map(work, context, items, jobs)`; and
`Ahead(work, context)`, one call begun in a process of its own, its value had later.

`work(context, item)` for every item, in order, and its values. With `jobs` above one
(and fork available) the items are shared among that many forked processes: `context`,
the frozen inputs every item needs (the articles, the renderer prepared for them), reaches
them through the fork, copied by nobody, and only items and values travel through pipes.
Otherwise, or for one item, the same calls run in this process. Either way the caller
sees the same values in the same order; the parent process keeps no state for it.
"""

from __future__ import annotations

import gc
import multiprocessing
from collections.abc import Callable, Iterator, Sequence
from contextlib import suppress
from functools import partial
from typing import Any, Generic, TypeVar, cast

C = TypeVar("C")
T = TypeVar("T")
R = TypeVar("R")

FORK = "fork" in multiprocessing.get_all_start_methods()

# A worker's context, set once as it starts; never set in the calling process.
_context: Any = None


def workers(jobs: int, n: int) -> int:
    """How many processes `parallel_map(..., items, jobs)` uses for `n` items: `jobs`, or 1
    (this process alone) without fork, with one job, or with one item."""
    return jobs if FORK and jobs > 1 and n > 1 else 1


def _enter(context: Any) -> None:
    global _context
    _context = context


def _call(work: Callable[[Any, Any], Any], item: Any) -> Any:
    return work(_context, item)


def _pool(jobs: int, context: Any) -> Any:
    """`jobs` forked processes, each with `context` (see `_enter`)."""
    # The workers leave the objects that exist at the fork out of their collections, so a
    # collection there does not write to (and so copy) every page of memory they share
    # with this process. This process collects them again (the dev server lives long).
    frozen = gc.get_freeze_count()  # the dev server freezes what it keeps between rebuilds
    gc.freeze()
    try:
        return multiprocessing.get_context("fork").Pool(jobs, initializer=_enter, initargs=(context,))
    finally:
        if not frozen:
            gc.unfreeze()


def parallel_map(work: Callable[[C, T], R], context: C, items: Sequence[T], jobs: int) -> Iterator[R]:
    """`work(context, item)` for each of `items`, in order, in `workers(jobs, len(items))`
    processes. `work` must be a module-level function (it is named to the workers). No
    worker outlives the iteration: stopping early, or an error, ends them all."""
    if workers(jobs, len(items)) == 1:
        for item in items:
            yield work(context, item)
        return
    pool = _pool(jobs, context)
    try:
        yield from pool.imap(partial(_call, work), items)
        pool.close()
        pool.join()
    finally:
        pool.terminate()


def _ahead(sender: Any, work: Callable[[Any], Any], context: Any) -> None:
    try:
        outcome: tuple[bool, Any] = (True, work(context))
    except BaseException as error:  # noqa: BLE001 - handed to the caller, who raises it
        outcome = (False, error)
    try:
        sender.send(outcome)
    except Exception as error:  # a value or error that cannot be sent
        sender.send((False, RuntimeError(f"{work.__name__}: {error}")))


class Ahead(Generic[C, R]):
    """`work(context)` begun at once in a forked process of its own while this one goes
    on (with `fork` False, without fork, or when no process can be started, called here
    when first asked); `result()` waits for its value, or raises its error, and `close()`
    (or leaving the `with` block) ends the process, finished or not. Should the process
    die without an answer, `result()` does the work here. For I/O that a build will need
    later and that needs nothing the build works out first: the process runs on a core
    this one leaves idle."""

    def __init__(self, work: Callable[[C], R], context: C, fork: bool = True) -> None:
        self._work, self._context = work, context
        self._process: Any = None
        self._receiver: Any = None
        self._outcome: tuple[bool, Any] | None = None
        if not (FORK and fork):
            return
        forked = multiprocessing.get_context("fork")
        receiver, sender = forked.Pipe(duplex=False)
        process = forked.Process(target=_ahead, args=(sender, work, context), daemon=True)
        frozen = gc.get_freeze_count()  # as in `_pool`: the child's collections copy no shared memory
        gc.freeze()
        try:
            process.start()
        except OSError:  # no process to be had: the work is done here when asked
            receiver.close()
            return
        finally:
            sender.close()
            if not frozen:
                gc.unfreeze()
        self._process, self._receiver = process, receiver

    def result(self) -> R:
        if self._receiver is not None:
            with suppress(EOFError, OSError):  # the process ended without an answer: done here below
                self._outcome = self._receiver.recv()
            self.close()
        if self._outcome is None:
            self._outcome = (True, self._work(self._context))
        ok, value = self._outcome
        if not ok:
            raise cast(BaseException, value)
        result: R = value
        return result

    def close(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.join()
            self._receiver.close()
            self._process = self._receiver = None

    def __enter__(self) -> Ahead[C, R]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
