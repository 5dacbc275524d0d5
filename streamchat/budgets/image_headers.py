"""What an image's first bytes say: its format (by signature, whatever it was called) and
its width and height (from the PNG IHDR chunk, the JPEG frame header, the WebP VP8, VP8L
or VP8X header, the GIF screen descriptor).

Reads through ``read(offset, size)``, so a caller can hand it the decoded bytes or read
them from base64 a piece at a time (streamchat.budgets.images): only the header is
ever looked at. Nothing here trusts the bytes: a header that does not parse is None.
"""

from __future__ import annotations

from collections.abc import Callable

# bytes at ``offset``, up to ``size`` of them (fewer at the end)
Read = Callable[[int, int], bytes]

PNG, JPEG, WEBP, GIF = "image/png", "image/jpeg", "image/webp", "image/gif"
IMAGE_TYPES = (PNG, JPEG, WEBP, GIF)
# Enough of the head for every signature below.
SIGNATURE_BYTES = 16
# JPEG segments walked before giving up on finding the frame header: real files have a
# dozen or so; a hostile one made of tiny segments must not cost a loop per byte.
_MAX_JPEG_SEGMENTS = 256
# Start-of-frame markers: every SOFn but DHT (C4), JPG (C8) and DAC (CC).
_JPEG_FRAMES = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
# Markers with no length after them: TEM, RST0-7, SOI.
_JPEG_STANDALONE = frozenset([0x01, *range(0xD0, 0xD9)])
_JPEG_STOP = (0xD9, 0xDA)  # EOI, SOS: no frame header will come


def image_type(head: bytes) -> str | None:
    """The media type the signature at the start of ``head`` names, or None."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return GIF
    return None


def image_size(media_type: str, read: Read) -> tuple[int, int] | None:
    """(width, height) of an image of ``media_type`` read through ``read``; None when its
    header does not say (or says zero)."""
    reader = _SIZE_READERS.get(media_type)
    size = reader(read) if reader is not None else None
    if size is None or size[0] <= 0 or size[1] <= 0:
        return None
    return size


def _png(read: Read) -> tuple[int, int] | None:
    head = read(8, 16)  # the first chunk: length, "IHDR", width, height
    if len(head) < 16 or head[4:8] != b"IHDR":
        return None
    return int.from_bytes(head[8:12], "big"), int.from_bytes(head[12:16], "big")


def _gif(read: Read) -> tuple[int, int] | None:
    head = read(6, 4)  # the logical screen's width and height
    if len(head) < 4:
        return None
    return int.from_bytes(head[0:2], "little"), int.from_bytes(head[2:4], "little")


def _webp(read: Read) -> tuple[int, int] | None:
    head = read(12, 18)  # the first chunk's name, its size, then its header
    if len(head) < 18:
        return None
    chunk, data = head[0:4], head[8:18]
    if chunk == b"VP8 " and data[3:6] == b"\x9d\x01\x2a":  # a key frame's start code
        return (
            int.from_bytes(data[6:8], "little") & 0x3FFF,
            int.from_bytes(data[8:10], "little") & 0x3FFF,
        )
    if chunk == b"VP8L" and data[0] == 0x2F:
        bits = int.from_bytes(data[1:5], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X":
        return int.from_bytes(data[4:7], "little") + 1, int.from_bytes(data[7:10], "little") + 1
    return None


def _jpeg(read: Read) -> tuple[int, int] | None:
    at = 2  # after SOI
    for _ in range(_MAX_JPEG_SEGMENTS):
        head = read(at, 4)
        if len(head) < 2 or head[0] != 0xFF:
            return None
        marker = head[1]
        if marker == 0xFF:  # a fill byte before the marker
            at += 1
            continue
        if marker in _JPEG_STANDALONE:
            at += 2
            continue
        if marker in _JPEG_STOP or len(head) < 4:
            return None
        length = int.from_bytes(head[2:4], "big")
        if length < 2:
            return None
        if marker in _JPEG_FRAMES:
            frame = read(at + 4, 5)  # precision, height, width
            if len(frame) < 5:
                return None
            return int.from_bytes(frame[3:5], "big"), int.from_bytes(frame[1:3], "big")
        at += 2 + length
    return None


_SIZE_READERS: dict[str, Callable[[Read], tuple[int, int] | None]] = {
    PNG: _png,
    GIF: _gif,
    WEBP: _webp,
    JPEG: _jpeg,
}
