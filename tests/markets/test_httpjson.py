"""The HTTP side's handling of name-resolution failures and odd answers (MockTransport: no network needed)."""

import socket

import httpx
import pytest

from marketnews.markets.httpjson import CallFailed, Fetcher, HttpPolicy


def resolver_failure(errno: int):  # type: ignore[no-untyped-def]
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(str(request.url))
        try:
            raise socket.gaierror(errno, "resolver says no")
        except socket.gaierror as cause:
            raise httpx.ConnectError(f"[Errno {errno}] resolver says no", request=request) from cause

    return handler, calls


def test_an_unknown_host_is_not_retried() -> None:
    handler, calls = resolver_failure(socket.EAI_NONAME)
    with httpx.Client(transport=httpx.MockTransport(handler)) as client:
        fetcher = Fetcher(client, HttpPolicy(attempts=4), sleep=lambda s: None)
        with pytest.raises(CallFailed, match="ConnectError"):
            fetcher.get_json("https://gamma.invalid/markets")
    assert len(calls) == 1


def test_a_temporary_resolver_failure_is_retried() -> None:
    handler, calls = resolver_failure(socket.EAI_AGAIN)
    with httpx.Client(transport=httpx.MockTransport(handler)) as client:
        fetcher = Fetcher(client, HttpPolicy(attempts=3), sleep=lambda s: None)
        with pytest.raises(CallFailed, match="after 3 attempts"):
            fetcher.get_json("https://gamma.invalid/markets")
    assert len(calls) == 3


@pytest.mark.parametrize(("retry_after", "date", "slept"), [
    ("7", "Sat, 21 Nov 2026 16:00:00 GMT", 7.0),
    ("Sat, 21 Nov 2026 16:00:05 GMT", "Sat, 21 Nov 2026 16:00:00 GMT", 5.0),  # by the server's clock
    ("Sat, 21 Nov 2026 15:59:00 GMT", "Sat, 21 Nov 2026 16:00:00 GMT", 0.0),  # already past
    ("soon", "Sat, 21 Nov 2026 16:00:00 GMT", None),  # unreadable: the usual backoff
])
def test_retry_after_in_seconds_or_as_a_date(retry_after: str, date: str, slept: float | None) -> None:
    answers = [httpx.Response(503, headers={"Retry-After": retry_after, "Date": date}),
               httpx.Response(200, json={"ok": True})]
    sleeps: list[float] = []
    with httpx.Client(transport=httpx.MockTransport(lambda request: answers.pop(0))) as client:
        fetcher = Fetcher(client, HttpPolicy(attempts=2), sleep=sleeps.append)
        assert fetcher.get_json("https://gamma.invalid/markets") == {"ok": True}
    assert len(sleeps) == 1
    if slept is not None:
        assert sleeps == [slept]
    else:  # the first backoff: between half and all of HttpPolicy.backoff_s
        assert HttpPolicy().backoff_s / 2 <= sleeps[0] <= HttpPolicy().backoff_s


def test_json_nested_too_deep_to_read_is_a_failed_call_not_a_crash() -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    with httpx.Client(transport=httpx.MockTransport(lambda request: httpx.Response(200, content=deep))) as client:
        fetcher = Fetcher(client, HttpPolicy(attempts=2), sleep=lambda s: None)
        with pytest.raises(CallFailed, match="nested too deep to read"):
            fetcher.get_json("https://gamma.invalid/markets")
