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
from functools import partial
from typing import Any, Generic, TypeVar

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


def _alone(work: Callable[[Any], Any]) -> Any:
    return work(_context)


class Ahead(Generic[C, R]):
    """`work(context)` begun at once in a forked process of its own while this one goes
    on (with `fork` False, or without fork, called here when first asked); `result()` waits
    for its value, or raises its error, and `close()` (or leaving the `with` block) ends
    the process, finished or not. For I/O that a build will need later and that needs
    nothing the build works out first: the process runs on a core this one leaves idle."""

    def __init__(self, work: Callable[[C], R], context: C, fork: bool = True) -> None:
        self._work, self._context = work, context
        self._pool = _pool(1, context) if FORK and fork else None
        self._pending = self._pool.apply_async(_alone, (work,)) if self._pool is not None else None

    def result(self) -> R:
        if self._pending is None:
            return self._work(self._context)
        value: R = self._pending.get()
        return value

    def close(self) -> None:
        if self._pool is not None:
            self._pool.terminate()

    def __enter__(self) -> Ahead[C, R]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
