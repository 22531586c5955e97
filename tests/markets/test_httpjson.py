"""The HTTP side's handling of name-resolution failures (MockTransport: no network needed)."""

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
