"""A tag -> the name a reader sees for its topic ("us-politics" -> "U.S. Politics"). No I/O.

`site.yaml`'s `topics:` names a topic the way a newspaper would; a tag it does not name is
shown in a readable form of itself: as the author wrote it when it has capitals ("NATO"),
else with its hyphens as spaces and each word capitalised ("xi-jinping" -> "Xi Jinping").
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

from marketnews.content import slugify


@lru_cache(maxsize=8192)
def topic_name(tag: str, topics: Sequence[tuple[str, str]] = ()) -> str:
    """The display name of `tag`; `topics` are SiteConfig.topics, pairs keyed by URL name."""
    slug = slugify(tag)
    for key, shown in topics:
        if key == slug:
            return shown
    return readable(tag)


def readable(tag: str) -> str:
    """A tag as a title: "xi-jinping" -> "Xi Jinping", "central_banks" -> "Central Banks";
    a tag written with capitals ("NATO", "iPhone sales") keeps them."""
    words = re.sub(r"[-_\s]+", " ", tag).strip()
    if any(c.isupper() for c in words):
        return words
    return " ".join(w[:1].upper() + w[1:] for w in words.split(" "))
