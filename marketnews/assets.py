"""Static files -> fingerprinted copies named by content hash, and the map from one to the other. Pure.

`fingerprint` gives every file from `static/` a second name under `assets/` that
carries a hash of its bytes (`css/site.css` -> `assets/css/site.3f2a9c1b0d.css`).
Pages refer to the hashed name, so it can be cached for a year as immutable: a new
version of the file is a new URL. The original names are written too, for the links
that must outlive a deploy (feeds, social cards, other sites, raw HTML in articles).

A stylesheet's `url(...)` references to other static files are rewritten to their
hashed names before the stylesheet itself is hashed, so a changed image changes the
stylesheet's name as well.
"""

from __future__ import annotations

import contextlib
import hashlib
import posixpath
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property

from marketnews.errors import MarketnewsError
from marketnews.output import OutputFile

ASSET_DIR = "assets"
HASH_CHARS = 10
_CSS_URL = re.compile(r"""url\(\s*(['"]?)([^'")\s]+)\1\s*\)""")
# `="/…"`, then the attribute's name checked by hand: a pattern that starts with the
# name (`\b(src|href)=`) is tried at every position of the page, many times slower.
# (Possessive: a `"` must follow, so giving characters back finds nothing more; it tried every
# split of an unclosed value, which raw HTML can leave, in time growing as its square.)
_HTML_REF = re.compile(r'="(/[^"#?]*+)([^"]*+)"')
_WORD = re.compile(r"\w")


def hashed_name(path: str, data: bytes) -> str:
    """`css/site.css` + bytes -> `assets/css/site.<hash>.css`."""
    digest = hashlib.sha256(data).hexdigest()[:HASH_CHARS]
    folder, name = posixpath.split(path)
    stem, dot, ext = name.rpartition(".")
    new = f"{stem}.{digest}.{ext}" if dot and stem else f"{name}.{digest}"
    return posixpath.join(ASSET_DIR, folder, new)


@dataclass(frozen=True)
class Assets:
    """The site's static files: originals and fingerprinted copies, and the map between them."""

    hashed: Mapping[str, str] = field(default_factory=dict)  # "css/site.css" -> "assets/css/site.<h>.css"
    files: tuple[OutputFile, ...] = ()  # every file to write: originals, then hashed copies

    def url(self, path: str) -> str:
        """The root-relative URL of a static file's fingerprinted copy (`asset_url` in templates).

        With no static files at all (a site without `static/`, or a renderer given no
        assets) the path is returned as it is, root-relative; so it is when files are not
        fingerprinted (the dev server), for a file there is: a file that is not is the same
        error either way.
        """
        key = path.lstrip("/")
        if not self.hashed:
            if self.files and key not in self.by_path:
                raise MarketnewsError(f"asset_url({path!r}): no such file under static/")
            return "/" + key
        hashed = self.hashed.get(key)
        if hashed is None:
            raise MarketnewsError(f"asset_url({path!r}): no such file under static/")
        return "/" + hashed

    @cached_property
    def by_path(self) -> dict[str, bytes | None]:
        """Every file's bytes by its path, originals and hashed copies."""
        return {f.path: f.data for f in self.files}

    def resolve(self, url: str) -> str:
        """A root-relative URL of a static file -> its fingerprinted URL; anything else unchanged."""
        if not url.startswith("/") or url.startswith("//"):
            return url
        hashed = self.hashed.get(url[1:])
        return "/" + hashed if hashed is not None else url

    def rewrite_html(self, html: str) -> str:
        """Point `src="/…"` and `href="/…"` attributes at fingerprinted copies where there is one."""
        if not self.hashed:
            return html

        def sub(m: re.Match[str]) -> str:
            start = m.start()
            for name in ("src", "href"):
                at = start - len(name)
                if m.string.startswith(name, at) and not (at > 0 and _WORD.match(m.string, at - 1)):
                    return f'="{self.resolve(m.group(1))}{m.group(2)}"'
            return m.group(0)

        return _HTML_REF.sub(sub, html)


def _rewrite_css(path: str, text: str, hashed: Mapping[str, str]) -> str:
    folder = posixpath.dirname(path)

    def sub(m: re.Match[str]) -> str:
        quote, ref = m.group(1), m.group(2)
        if ref.startswith(("data:", "http:", "https:", "//", "#")):
            return m.group(0)
        target = ref[1:] if ref.startswith("/") else posixpath.normpath(posixpath.join(folder, ref))
        new = hashed.get(target)
        return f"url({quote}/{new}{quote})" if new is not None else m.group(0)

    return _CSS_URL.sub(sub, text)


def _data(f: OutputFile) -> bytes:
    if f.data is None:
        raise ValueError(f"static file {f.path!r} has no content")
    return f.data


def fingerprint(static: Iterable[OutputFile]) -> Assets:
    """Hash every static file; stylesheets last, with their url() references rewritten first."""
    originals = sorted(static, key=lambda f: f.path)
    hashed: dict[str, str] = {}
    copies: list[OutputFile] = []
    plain = [f for f in originals if not f.path.endswith(".css")]
    sheets = [f for f in originals if f.path.endswith(".css")]
    for f in plain:
        hashed[f.path] = hashed_name(f.path, _data(f))
        copies.append(OutputFile(hashed[f.path], f.data))
    for f in sheets:
        data = _data(f)
        with contextlib.suppress(UnicodeDecodeError):  # not UTF-8: hashed as it is
            data = _rewrite_css(f.path, data.decode("utf-8"), hashed).encode("utf-8")
        hashed[f.path] = hashed_name(f.path, data)
        copies.append(OutputFile(hashed[f.path], data))
    return Assets(hashed=dict(sorted(hashed.items())), files=tuple(originals) + tuple(copies))
