"""The HTTP security headers the site is served with: netlify.toml's `[[headers]]` for "/*".
Reads one file.

netlify.toml is the one place they are written; the dev server reads them from the site's
netlify.toml so that what an author sees while writing is what readers get. A site
without a netlify.toml gets the headers below, which are the project's netlify.toml's
(a test keeps the two the same).
"""

from __future__ import annotations

import tomllib
from pathlib import Path

DEFAULT_HEADERS: dict[str, str] = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self' https:; base-uri 'none'; "
                               "form-action 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
}


def netlify_headers(path: Path) -> dict[str, str] | None:
    """The headers netlify.toml at `path` sets for every path ("/*"), or None without one."""
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None
    for rule in doc.get("headers", []):
        if isinstance(rule, dict) and rule.get("for") == "/*" and isinstance(rule.get("values"), dict):
            return {str(k): str(v) for k, v in rule["values"].items()}
    return None


def security_headers(root: Path) -> dict[str, str]:
    """What the site at `root` is served with: its netlify.toml's headers for "/*", else the defaults."""
    found = netlify_headers(root / "netlify.toml")
    return found if found is not None else dict(DEFAULT_HEADERS)
