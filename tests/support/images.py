"""Small real images for the tests, made here byte by byte (no imaging library): a PNG
that decoders draw, and headers of each format with a chosen size, plus the content
parts each API takes for them."""

from __future__ import annotations

import base64
import struct
import zlib


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data)
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def png(width: int = 2, height: int = 2, rgb: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    """A valid RGB PNG of one colour that any decoder (Chromium's too) draws."""
    row = b"\x00" + bytes(rgb) * width
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + _png_chunk(b"IDAT", zlib.compress(row * height))
        + _png_chunk(b"IEND", b"")
    )


def jpeg_header(width: int, height: int, app_segments: int = 1) -> bytes:
    """The start of a JPEG: SOI, some APPn segments, then a baseline frame header."""
    app = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00" + b"\x00" * 9
    frame = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    return b"\xff\xd8" + app * app_segments + frame + b"\xff\xda" + b"\x00" * 16


def gif_header(width: int, height: int) -> bytes:
    """A GIF89a header with its logical screen size."""
    return b"GIF89a" + struct.pack("<HH", width, height) + b"\x00\x00\x00" + b"\x3b"


def _webp(chunk: bytes, data: bytes) -> bytes:
    """A WebP file of one chunk: the RIFF header, WEBP, and ``chunk`` holding ``data``."""
    riff = b"WEBP" + chunk + struct.pack("<I", len(data)) + data
    return b"RIFF" + struct.pack("<I", len(riff)) + riff


def webp_vp8x(width: int, height: int) -> bytes:
    """An extended WebP's header: RIFF, WEBP, a VP8X chunk with the canvas size."""
    data = (
        b"\x00\x00\x00\x00" + (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    )
    return _webp(b"VP8X", data)


def webp_vp8l(width: int, height: int) -> bytes:
    """A lossless WebP's header: the VP8L signature and the packed size."""
    bits = (width - 1) | ((height - 1) << 14)
    data = b"\x2f" + bits.to_bytes(4, "little") + b"\x00" * 8
    return _webp(b"VP8L", data)


def webp_vp8(width: int, height: int) -> bytes:
    """A lossy WebP's header: a key frame's tag, start code and size."""
    data = b"\x00\x00\x00" + b"\x9d\x01\x2a" + struct.pack("<HH", width, height) + b"\x00" * 8
    return _webp(b"VP8 ", data)


def data_url(data: bytes, media_type: str = "image/png") -> str:
    """``data`` as a base64 data: URL declared as ``media_type``."""
    return f"data:{media_type};base64," + base64.b64encode(data).decode()


def chat_image(url: str, detail: str | None = None) -> dict:
    """A Chat Completions image part."""
    image = {"url": url} if detail is None else {"url": url, "detail": detail}
    return {"type": "image_url", "image_url": image}


def responses_image(url: str, detail: str | None = None) -> dict:
    """A Responses API image part."""
    part = {"type": "input_image", "image_url": url}
    if detail is not None:
        part["detail"] = detail
    return part


def image_message(text: str, *images: dict) -> dict:
    """A request body whose one user message is ``text`` and the image parts."""
    return {"messages": [{"role": "user", "content": [{"type": "text", "text": text}, *images]}]}
