"""Polite JSON GETs for the providers: timeouts, retries, Retry-After, a rate and a time budget.

Does network I/O, only through the `httpx.Client` it is handed; the sleep function
and the monotonic clock are injected too, so tests run retries without waiting.

One `Fetcher` serves one fetch run (one stage of one build):
- every attempt waits for a slot of the rate limit (a sliding 10 s window), and has connect/read timeouts
  no longer than what is left of the run's time budget;
- connection errors and timeouts, 429 and 5xx are retried with exponential
  backoff and jitter, or after the `Retry-After` the server gives (seconds or a date);
  a wait that would end past the budget is not started: the call fails at once;
- 414 fails with `too_long` set (the caller may split its batch); other 4xx, a
  body that is not JSON (an HTML error page) fail without retry;
- `run_all` runs jobs with bounded concurrency and abandons, as failed, whatever
  has not finished when the budget runs out. Nothing here waits forever.
"""

from __future__ import annotations

import random
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:  # the network stack is imported by the code that uses it, not by every build
    import httpx


T = TypeVar("T")
Params = Sequence[tuple[str, str]]


@dataclass(frozen=True)
class HttpPolicy:
    """How hard to try. The defaults suit a build that runs hourly in CI."""

    concurrency: int = 4
    connect_timeout_s: float = 5.0
    read_timeout_s: float = 10.0
    attempts: int = 4
    backoff_s: float = 0.5
    max_backoff_s: float = 8.0
    budget_s: float = 30.0
    rate_per_s: float = 25.0


class CallFailed(Exception):
    """A call that produced no usable JSON; `reason` says why in a few words."""

    def __init__(self, reason: str, too_long: bool = False):
        super().__init__(reason)
        self.reason = reason
        self.too_long = too_long


class RateLimit:
    """At most `per_second * window_s` call starts in any `window_s` seconds, across threads.

    A sliding window, like the APIs' own limits ("1,000 requests per 10 s"): a run may
    start a window's worth of calls at once (concurrency still bounds them), then
    waits for the oldest start to leave the window. 0 means no limit.
    """

    def __init__(
        self,
        per_second: float,
        monotonic: Callable[[], float],
        sleep: Callable[[float], None],
        window_s: float = 10.0,
    ):
        self._max = max(1, int(per_second * window_s)) if per_second > 0 else 0
        self._window = window_s
        self._starts: deque[float] = deque()
        self._lock = threading.Lock()
        self._monotonic, self._sleep = monotonic, sleep

    def acquire(self, deadline: float) -> bool:
        """Wait for a free slot; False (without waiting) when it comes after `deadline`."""
        if not self._max:
            return True
        with self._lock:
            now = self._monotonic()
            slot = now
            if len(self._starts) >= self._max:
                slot = max(now, self._starts[0] + self._window)
                if slot > deadline:
                    return False
                self._starts.popleft()
            self._starts.append(slot)
        if slot > now:
            self._sleep(slot - now)
        return True


def _unknown_host(exc: BaseException) -> bool:
    """True when name resolution said the host does not exist (as on a machine with no
    network), as opposed to a temporary resolver failure, which is worth a retry."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, socket.gaierror) and seen.errno == socket.EAI_NONAME:
            return True
        seen = seen.__cause__ or seen.__context__
    return "[Errno -2] Name or service not known" in str(exc)


def retry_after_s(response: httpx.Response) -> float | None:
    """`Retry-After` in seconds: a number of seconds, or an HTTP date, counted from the
    response's own `Date` (the server's clock) or, without one, from this machine's."""
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        when, sent = _http_date(value), _http_date(response.headers.get("date", ""))
        if when is None:
            return None
        seconds = max(0.0, (when - (sent or datetime.now(UTC))).total_seconds())
    return seconds if 0 <= seconds < 86400 else None


def _http_date(value: str) -> datetime | None:
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


class Fetcher:
    """The HTTP side of one fetch run: client, policy, budget, rate limit, request count."""

    def __init__(
        self,
        client: httpx.Client,
        policy: HttpPolicy,
        *,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ):
        self.client, self.policy = client, policy
        self._sleep, self._monotonic = sleep, monotonic
        self._rng = rng or random.Random()
        self._deadline = monotonic() + policy.budget_s
        self._limit = RateLimit(policy.rate_per_s, monotonic, sleep)
        self._lock = threading.Lock()
        self._requests = 0

    @property
    def requests(self) -> int:
        """HTTP requests sent so far (every attempt counts)."""
        with self._lock:
            return self._requests

    def remaining_s(self) -> float:
        return self._deadline - self._monotonic()

    @property
    def out_of_time(self) -> str:
        return f"time budget of {self.policy.budget_s:g} s exhausted"

    def backoff_s(self, attempt: int) -> float:
        """Exponential, capped, with jitter: half fixed, half random."""
        ceiling = min(self.policy.max_backoff_s, self.policy.backoff_s * 2.0**attempt)
        return ceiling / 2 + self._rng.uniform(0, ceiling / 2)

    def get_json(self, url: str, params: Params = ()) -> Any:
        """GET `url` and return its decoded JSON body; raise CallFailed when that can't be had."""
        import httpx  # loaded once, by the first request

        policy = self.policy
        last = "no attempt made"
        for attempt in range(policy.attempts):
            remaining = self.remaining_s()
            if remaining <= 0 or not self._limit.acquire(self._deadline):
                raise CallFailed(f"{last}; {self.out_of_time}" if attempt else self.out_of_time)
            remaining = max(0.001, self.remaining_s())
            timeout = httpx.Timeout(
                min(policy.read_timeout_s, remaining),
                connect=min(policy.connect_timeout_s, remaining),
            )
            with self._lock:
                self._requests += 1
            wait_s: float | None = None
            try:
                response = self.client.get(url, params=list(params), timeout=timeout)
            except httpx.TransportError as exc:  # connection errors and timeouts
                last = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                if _unknown_host(exc):  # no DNS answer for the name: retrying in seconds won't change it
                    raise CallFailed(last) from None
            except httpx.HTTPError as exc:
                raise CallFailed(f"{type(exc).__name__}: {exc}") from None
            else:
                status = response.status_code
                if 200 <= status < 300:
                    try:
                        return response.json()
                    except ValueError:
                        kind = response.headers.get("content-type", "no content type")
                        raise CallFailed(f"HTTP {status} body is not JSON ({kind})") from None
                    except RecursionError:
                        raise CallFailed(f"HTTP {status} body is JSON nested too deep to read") from None
                if status == 414:
                    raise CallFailed("HTTP 414 URL too long", too_long=True)
                if status != 429 and status < 500:
                    raise CallFailed(f"HTTP {status}")
                last = f"HTTP {status}"
                wait_s = retry_after_s(response)
            if attempt == policy.attempts - 1:
                break
            delay = wait_s if wait_s is not None else self.backoff_s(attempt)
            if delay >= self.remaining_s():
                raise CallFailed(f"{last}; a retry in {delay:g} s would pass the time budget")
            self._sleep(delay)
        raise CallFailed(f"{last} after {policy.attempts} attempts")

    def run_all(self, jobs: Sequence[Callable[[], T]]) -> list[T | CallFailed]:
        """Run jobs, `concurrency` at a time; a job unfinished at the deadline is CallFailed."""
        if not jobs:
            return []
        pool = ThreadPoolExecutor(max_workers=max(1, self.policy.concurrency))
        futures: list[Future[T]] = [pool.submit(job) for job in jobs]
        try:
            # The grace second lets in-flight requests (whose timeouts end at the deadline)
            # report their own reason first.
            wait(futures, timeout=max(0.0, self.remaining_s()) + 1.0)
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
        results: list[T | CallFailed] = []
        for future in futures:
            if not future.done() or future.cancelled():
                results.append(CallFailed(self.out_of_time))
                continue
            exc = future.exception()
            if exc is None:
                results.append(future.result())
            elif isinstance(exc, CallFailed):
                results.append(exc)
            else:
                raise exc
        return results
