"""An image file's bytes -> its width and height in pixels, from its header. Pure, no I/O.

Pages give every image its `width` and `height`, so the browser reserves the space
before the file arrives and nothing below it moves (no layout shift). PNG, GIF, JPEG,
WebP and SVG (its `width`/`height` attributes, else its `viewBox`) are understood;
anything else gives None and the page falls back to a default size.
"""

from __future__ import annotations

import re
import struct

Size = tuple[int, int]

_SVG_TAG = re.compile(rb"<svg\b[^>]*>", re.S)
_ATTR = r"""\b{}\s*=\s*["']\s*([0-9.]+)\s*(px)?\s*["']"""
_VIEWBOX = re.compile(rb"""\bviewBox\s*=\s*["']\s*[-0-9.]+[\s,]+[-0-9.]+[\s,]+([0-9.]+)[\s,]+([0-9.]+)\s*["']""")


def _svg(data: bytes) -> Size | None:
    tag = _SVG_TAG.search(data[:4096])
    if not tag:
        return None
    head = tag.group(0)
    width = re.search(_ATTR.format("width").encode(), head)
    height = re.search(_ATTR.format("height").encode(), head)
    if width and height:
        return round(float(width.group(1))), round(float(height.group(1)))
    box = _VIEWBOX.search(head)
    if box:
        return round(float(box.group(1))), round(float(box.group(2)))
    return None


def _jpeg(data: bytes) -> Size | None:
    i = 2
    while i + 9 < len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            i += 2
            continue
        (length,) = struct.unpack(">H", data[i + 2 : i + 4])
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):  # start of frame
            height, width = struct.unpack(">HH", data[i + 5 : i + 9])
            return width, height
        i += 2 + length
    return None


def _webp(data: bytes) -> Size | None:
    chunk = data[12:16]
    if chunk == b"VP8 " and len(data) >= 30:
        width, height = struct.unpack("<HH", data[26:30])
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L" and len(data) >= 25:
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X" and len(data) >= 30:
        return int.from_bytes(data[24:27], "little") + 1, int.from_bytes(data[27:30], "little") + 1
    return None


def image_size(data: bytes) -> Size | None:
    """(width, height) of a PNG, GIF, JPEG, WebP or SVG image, or None."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return width, height
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        width, height = struct.unpack("<HH", data[6:10])
        return width, height
    if data[:2] == b"\xff\xd8":
        return _jpeg(data)
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return _webp(data)
    if b"<svg" in data[:4096]:
        return _svg(data)
    return None
