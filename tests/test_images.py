"""Image sizes read from file headers, so pages can give every image its width and height."""

import struct
import zlib

from marketnews.images import image_size
from tests.conftest import REPO


def png(width: int, height: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    return b"\x89PNG\r\n\x1a\n" + struct.pack(">I", len(ihdr)) + chunk + struct.pack(">I", zlib.crc32(chunk))


def test_raster_formats() -> None:
    assert image_size(png(640, 480)) == (640, 480)
    assert image_size(b"GIF89a" + struct.pack("<HH", 32, 16) + b"\x00" * 8) == (32, 16)
    jpeg = (b"\xff\xd8" + b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00" + b"\x00" * 9
            + b"\xff\xc0" + struct.pack(">HBHH", 17, 8, 300, 400) + b"\x03" + b"\x00" * 9)
    assert image_size(jpeg) == (400, 300)
    webp = b"RIFF" + b"\x00" * 4 + b"WEBPVP8X" + b"\x00" * 8 + (799).to_bytes(3, "little") + (599).to_bytes(3, "little")
    assert image_size(webp) == (800, 600)


def test_svg_from_attributes_or_viewbox() -> None:
    assert image_size(b'<svg xmlns="http://www.w3.org/2000/svg" width="1200" height="630">') == (1200, 630)
    assert image_size(b'<?xml version="1.0"?>\n<svg viewBox="0 0 320 180" xmlns="x">') == (320, 180)
    assert image_size(b'<svg width="100%" height="100%">') is None
    assert image_size(b"not an image") is None


def test_example_images_have_sizes() -> None:
    for path in sorted((REPO / "static" / "images").iterdir()):
        assert image_size(path.read_bytes()) is not None, path
