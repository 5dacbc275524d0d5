"""The input tokens of a message's content parts, images counted by OpenAI's published
tile rule (docs/budgets.md, "Images"):

- ``detail: "low"``: 85 tokens, whatever the size;
- otherwise (``high``, ``auto``, or none given): the image is scaled down to fit in
  2048 x 2048, then down so its shorter side is at most 768 px; it costs 170 tokens for
  every 512-px tile that covers it, plus 85. An image whose size cannot be read counts
  as the largest one can cost (768 x 2048: 8 tiles, 1445 tokens).

The size comes from the image's header, read from the base64 of its data: URL a few
bytes at a time (streamchat.budgets.image_headers), never by decoding the whole image.
Content is as streamchat.web.validation leaves it: a string, or Chat Completions parts.
"""

from __future__ import annotations

import binascii
import math
from collections.abc import Callable

from .image_headers import image_size, image_type

LOW_DETAIL_TOKENS = 85
BASE_TOKENS = 85
TILE_TOKENS = 170
TILE_PX = 512
FIT_PX = 2048
SHORT_SIDE_PX = 768
# The most an image can cost: 768 x 2048 after scaling, 2 x 4 tiles.
MAX_IMAGE_TOKENS = BASE_TOKENS + TILE_TOKENS * 8
_DATA_URL_HEAD_CHARS = 64  # where the comma of "data:image/...;base64," must be


def image_tokens(width: int, height: int, detail: str | None = None) -> int:
    """The input tokens of a ``width`` x ``height`` image sent with ``detail``."""
    if detail == "low":
        return LOW_DETAIL_TOKENS
    scale = min(1.0, FIT_PX / max(width, height))
    width, height = width * scale, height * scale
    scale = min(1.0, SHORT_SIDE_PX / min(width, height))
    width, height = width * scale, height * scale
    tiles = math.ceil(round(width, 6) / TILE_PX) * math.ceil(round(height, 6) / TILE_PX)
    return BASE_TOKENS + TILE_TOKENS * tiles


def data_url_size(url: str) -> tuple[int, int] | None:
    """(width, height) of the image in a base64 data: URL, from its header; None when it
    cannot be read."""
    comma = url.find(",", 0, _DATA_URL_HEAD_CHARS)
    if comma < 0:
        return None
    start = comma + 1

    def read(offset: int, size: int) -> bytes:
        # Every 4 base64 characters are 3 bytes: decode only the quads that hold them.
        first, last = offset // 3, -(-(offset + size) // 3)
        try:
            data = binascii.a2b_base64(url[start + 4 * first : start + 4 * last])
        except (binascii.Error, ValueError):
            return b""
        skip = offset - 3 * first
        return data[skip : skip + size]

    media_type = image_type(read(0, 16))
    return image_size(media_type, read) if media_type else None


def estimate_image_part(part: dict) -> int:
    """The input tokens of one ``image_url`` content part."""
    image = part.get("image_url") or {}
    detail = image.get("detail")
    if detail == "low":
        return LOW_DETAIL_TOKENS
    size = data_url_size(str(image.get("url") or ""))
    return image_tokens(*size, detail) if size else MAX_IMAGE_TOKENS


def estimate_content_tokens(content: object, text_tokens: Callable[[str], float]) -> float:
    """The input tokens of a message's ``content``: its text through ``text_tokens``, its
    images by the tile rule."""
    if isinstance(content, str):
        return text_tokens(content)
    total = 0.0
    for part in content if isinstance(content, list) else ():
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text":
            total += text_tokens(str(part.get("text") or ""))
        elif kind == "image_url":
            total += estimate_image_part(part)
    return total
