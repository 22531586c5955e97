"""A stale quote says when it was taken, in the site's zone, so its page does not change hour by hour."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from marketnews.markets.model import Quote
from marketnews.markets.refs import parse_ref
from marketnews.widgets import widget_view

TAKEN = datetime(2026, 11, 21, 16, 0, tzinfo=UTC)
QUOTE = Quote(key="m", question="Q?", url="https://polymarket.com/event/e/m", as_of=TAKEN, probability=0.3)


def view(now: datetime, tz: ZoneInfo | None = None) -> tuple[str, str]:
    w = widget_view("m", parse_ref("m"), QUOTE, now=now, stale_after_s=2 * 3600, low_volume=0, tz=tz)
    return w.stale_text, w.summary


def test_fresh_quotes_say_nothing_about_time() -> None:
    assert view(TAKEN + timedelta(hours=2)) == ("", "Yes 30%")


def test_stale_quotes_give_the_time_they_were_taken() -> None:
    text, summary = view(TAKEN + timedelta(hours=3))
    assert text == "odds as of 21 November 2026, 16:00 UTC"
    assert summary == "Yes 30%; odds as of 21 November 2026, 16:00 UTC"
    assert view(TAKEN + timedelta(hours=9)) == (text, summary)  # the same words hours later


def test_stale_time_is_in_the_sites_zone() -> None:
    text, _ = view(TAKEN + timedelta(hours=3), ZoneInfo("America/New_York"))
    assert text == "odds as of 21 November 2026, 11:00 EST"
