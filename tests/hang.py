"""A guard for tests of input that once took time growing as the square of its size."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager


class _Hung(Exception):
    pass


@contextmanager
def fails_if_hung(what: str, seconds: int = 60) -> Iterator[None]:
    """Fail with `what` when the block runs past `seconds`. Not a measure of speed (the
    block takes a fraction of a second; the bound is some hundred times that): it ends a
    test that would otherwise run for hours, with a failure that says why. Unix only."""
    def hung(*_: object) -> None:
        raise _Hung

    before = signal.signal(signal.SIGALRM, hung)
    signal.alarm(seconds)
    try:
        yield
    except _Hung:
        raise AssertionError(f"{what} took over {seconds} s: time grows faster than the input") from None
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, before)
