"""Parse a market reference as an author writes it into a `MarketRef`. No I/O.

Accepted forms:
    some-slug                                        a market slug, or an event slug if no market has it
    https://polymarket.com/event/E                   event E
    https://polymarket.com/event/E/M                 market M (of event E)
    polymarket.com/event/E[/M], www.polymarket.com/… the same without scheme or with www
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

RefKind = Literal["any", "market", "event"]

_SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,254})$")
_HOSTS = {"polymarket.com", "www.polymarket.com"}


@dataclass(frozen=True, order=True)
class MarketRef:
    """What an author referenced. `key` identifies it in a snapshot.

    A bare slug and a `/event/E/M` URL share the key `M` (market slugs are unique
    on Polymarket); an event URL has the key `event/E`.
    """

    key: str
    kind: RefKind
    slug: str
    event_slug: str | None = None

    @property
    def page_path(self) -> str:
        """Site path of this reference's own page ("markets/<slug>/" or "events/<slug>/")."""
        return f"events/{self.slug}/" if self.kind == "event" else f"markets/{self.slug}/"


class RefError(ValueError):
    """A reference that is neither a slug nor a polymarket.com event/market URL."""


def parse_ref(text: str) -> MarketRef:
    raw = text.strip()
    if not raw:
        raise RefError("expected a Polymarket slug or polymarket.com URL, got an empty value")
    if "/" not in raw and "." not in raw:
        slug = raw.lower()
        if not _SLUG.match(slug):
            raise RefError(
                f"expected a slug of lowercase letters, digits and hyphens, got {raw!r}"
            )
        return MarketRef(key=slug, kind="any", slug=slug)
    url = raw if "://" in raw else "https://" + raw
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or parts.hostname not in _HOSTS:
        raise RefError(f"expected a polymarket.com URL or a slug, got {raw!r}")
    segments = [s for s in parts.path.split("/") if s]
    if len(segments) not in (2, 3) or segments[0] != "event":
        raise RefError(
            f"expected https://polymarket.com/event/<event>[/<market>], got {raw!r}"
        )
    slugs = [s.lower() for s in segments[1:]]
    for s in slugs:
        if not _SLUG.match(s):
            raise RefError(f"{s!r} in {raw!r} is not a valid slug")
    if len(slugs) == 1:
        return MarketRef(key=f"event/{slugs[0]}", kind="event", slug=slugs[0])
    return MarketRef(key=slugs[1], kind="market", slug=slugs[1], event_slug=slugs[0])
