"""One plain map over worker processes: `parallel_map(work, context, items, jobs)`.

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
from typing import Any, TypeVar

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


def parallel_map(work: Callable[[C, T], R], context: C, items: Sequence[T], jobs: int) -> Iterator[R]:
    """`work(context, item)` for each of `items`, in order, in `workers(jobs, len(items))`
    processes. `work` must be a module-level function (it is named to the workers). No
    worker outlives the iteration: stopping early, or an error, ends them all."""
    if workers(jobs, len(items)) == 1:
        for item in items:
            yield work(context, item)
        return
    # The workers leave the objects that exist at the fork out of their collections, so a
    # collection there does not write to (and so copy) every page of memory they share
    # with this process. This process collects them again (the dev server lives long).
    frozen = gc.get_freeze_count()  # the dev server freezes what it keeps between rebuilds
    gc.freeze()
    try:
        pool = multiprocessing.get_context("fork").Pool(jobs, initializer=_enter, initargs=(context,))
    finally:
        if not frozen:
            gc.unfreeze()
    try:
        yield from pool.imap(partial(_call, work), items)
        pool.close()
        pool.join()
    finally:
        pool.terminate()
