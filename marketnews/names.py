"""What names from the input may become in the output: URL path segments, file names and text
that must be written as UTF-8. Pure, no I/O.

A tag's URL keeps its letters in any script (`日本` -> `/tags/%E6%97%A5%E6%9C%AC/`, a folder
`tags/日本/` on disk), lowercased, with `+` and `#` kept so that `C++`, `C#` and `C` are three
topics; other punctuation and spaces become single hyphens. Two tags that differ only in
case, in spaces or hyphens, or in Unicode normal form are one topic; two that differ in
more but get the same URL are an error naming both articles (see pipeline.gather).
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from urllib.parse import quote

# File systems allow 255 bytes in a file or folder name (ext4, APFS, NTFS in UTF-16 units).
MAX_SEGMENT_BYTES = 255
_KEEP = frozenset("+#")
_APOSTROPHES = re.compile(r"['’]")
# Image references: a path under static/ written from the site root, or an http(s) URL.
_IMAGE_PATH = re.compile(r"^/(?!/)[^\\\s?#]*(?:[?#]\S*)?$")
_IMAGE_URL = re.compile(r"^https?://[^\s/?#]+(?:[/?#]\S*)?$", re.I)  # (host, then its path: one way to split them)


def image_reference_ok(value: str) -> bool:
    """Whether `value` may be an `image:`: "/images/map.png" (no `..`, no backslash) or an http(s) URL;
    not "../../etc/passwd", "javascript:…", "data:…" or "//host/…"."""
    if _IMAGE_URL.match(value):
        return True
    return bool(_IMAGE_PATH.match(value)) and ".." not in re.split(r"[?#]", value, maxsplit=1)[0].split("/")


@lru_cache(maxsize=8192)
def tag_slug(name: str) -> str:
    """A tag's URL segment, unescaped: "Ünïcødé" -> "ünïcødé", "C++" -> "c++", "New York" -> "new-york",
    "Straße" -> "strasse". Lowercased, and ß written ss as case folding (`tag_key`) writes it,
    so that tags one topic share one URL; lowercase keeps a Greek word's final ς, which
    case folding would make σ."""
    text = _APOSTROPHES.sub("", unicodedata.normalize("NFKC", name).lower().replace("ß", "ss"))
    out: list[str] = []
    for ch in text:
        kind = unicodedata.category(ch)
        if kind[0] in "LNM" or ch in _KEEP:
            out.append(ch)
        elif not out or out[-1] != "-":
            out.append("-")
    return "".join(out).strip("-")


def tag_key(name: str) -> str:
    """What makes two tags one topic: the same letters, digits and kept signs, whatever the
    case, spacing or Unicode normal form ("New York", "new-york", "NEW YORK")."""
    text = _APOSTROPHES.sub("", unicodedata.normalize("NFKC", name).casefold())
    return re.sub(r"[\s\-_]+", "-", text).strip("-")


def url_segment(segment: str) -> str:
    """A path segment as written in a URL: percent-encoded UTF-8 where it must be."""
    return quote(segment, safe="+")


def segment_problem(segment: str, what: str) -> str | None:
    """Why `segment` cannot be a file or folder name, or None."""
    size = len(segment.encode("utf-8", "surrogatepass"))
    if size > MAX_SEGMENT_BYTES:
        return f"{what} is {size} bytes long, more than a file name may be ({MAX_SEGMENT_BYTES} bytes); shorten it"
    return None


# What no page can hold: a lone surrogate, a control character other than tab and line
# ends, and the two noncharacters U+FFFE and U+FFFF.
_UNENCODABLE = re.compile("[\ud800-\udfff\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffe\uffff]")


def unencodable(text: str) -> str | None:
    """The first character of `text` that no page can hold (a lone surrogate, a control
    character), as shown in a message, or None."""
    found = _UNENCODABLE.search(text)
    if found is None:
        return None
    code = ord(found.group())
    if 0xD800 <= code <= 0xDFFF:
        return f"U+{code:04X} (half of a UTF-16 pair, which UTF-8 cannot encode)"
    return f"U+{code:04X} (a control character)"
