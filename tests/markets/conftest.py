"""Fixtures for the provider tests: the local Gamma + CLOB stand-in and a real httpx client."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest

from tests.standin import StandIn, fixture, squad_event

NOW = datetime(2026, 11, 21, 16, 30, tzinfo=UTC)


def fixture_world() -> StandIn:
    """Every recorded market and event, plus a multi-outcome event built from them."""
    return StandIn(
        markets=[
            fixture("market-binary-open"),
            fixture("market-binary-open-updown-15m"),
            fixture("market-negrisk-member-open"),
            fixture("market-closed-resolved"),
        ],
        events=[fixture("event-single-market-closed"), squad_event()],
        now_ts=int(NOW.timestamp()),
    )


@pytest.fixture
def standin() -> Iterator[StandIn]:
    with fixture_world() as server:
        yield server


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client() as c:
        yield c


class Sleeps:
    """An injected sleep that records instead of waiting."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()
