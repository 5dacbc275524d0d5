"""Checks a message's content parts (docs/api.md, "Images") and turns them into the one
shape the upstream request is built from (streamchat.upstream.request): Chat Completions
parts, whichever API's parts the client sent.

Accepted: ``{"type": "text" | "input_text", "text"}``, the chat ``{"type": "image_url",
"image_url": {"url", "detail"?}}`` and the Responses ``{"type": "input_image",
"image_url", "detail"?}``. An image must be a base64 ``data:`` URL (the server never
fetches a URL for a client) of PNG, JPEG, WebP or GIF whose bytes begin with that
format's signature, at most MAX_IMAGE_BYTES decoded, at most MAX_IMAGES_PER_MESSAGE in a
message. Each fault is a 400 that names the part (``messages[i].content[j]``) and why,
found before anything goes upstream.
"""

from __future__ import annotations

import binascii
import re

from ..budgets.image_headers import IMAGE_TYPES, SIGNATURE_BYTES, image_type
from ..errors import ApiError, bad_request
from ..settings.images import ImageSettings

TEXT_TYPES = ("text", "input_text")
IMAGE_PART_TYPES = ("image_url", "input_image")
DETAILS = ("auto", "low", "high")
# "data:<type>;base64," with nothing else in between; the type is checked apart so the
# answer can say which types are taken.
_DATA_URL = re.compile(r"data:([^;,]{1,64});base64,", re.IGNORECASE)
_NAMES = {"image/png": "PNG", "image/jpeg": "JPEG", "image/webp": "WebP", "image/gif": "GIF"}


def _fault(where: str, why: str, code: str) -> ApiError:
    return bad_request(f"{where}: {why}", code)


def read_parts(content: list, where: str, images_allowed: bool, settings: ImageSettings):
    """``content`` (a message's list of parts) as Chat Completions parts, and how many
    images it holds; ``where`` names the message in errors (``messages[2]``)."""
    if not content:
        raise _fault(
            f"{where}.content", "a list of parts must hold one or more.", "invalid_content"
        )
    parts, images = [], 0
    for index, part in enumerate(content):
        at = f"{where}.content[{index}]"
        kind = part.get("type") if isinstance(part, dict) else None
        if kind in TEXT_TYPES:
            text = part.get("text")
            if not isinstance(text, str):
                raise _fault(at, "'text' must be a string.", "invalid_content")
            parts.append({"type": "text", "text": text})
        elif kind in IMAGE_PART_TYPES:
            if not images_allowed:
                raise _fault(at, "images are taken in user messages only.", "images_not_allowed")
            images += 1
            if images > settings.max_per_message:
                raise _fault(
                    at,
                    f"at most {settings.max_per_message} images per message.",
                    "too_many_images",
                )
            parts.append(_image_part(part, kind, at, settings.max_bytes))
        else:
            raise _fault(
                at,
                "each part must be an object whose 'type' is one of "
                + ", ".join(TEXT_TYPES + IMAGE_PART_TYPES)
                + ".",
                "invalid_content",
            )
    return parts, images


def _image_part(part: dict, kind: str, at: str, max_bytes: int) -> dict:
    if kind == "image_url":  # chat: {"image_url": {"url", "detail"?}}
        image = part.get("image_url")
        if not isinstance(image, dict):
            raise _fault(at, "'image_url' must be an object with a 'url'.", "invalid_image")
        url, detail = image.get("url"), image.get("detail")
    else:  # Responses: {"image_url": "...", "detail"?}
        url, detail = part.get("image_url"), part.get("detail")
    if detail is not None and detail not in DETAILS:
        raise _fault(at, "'detail' must be one of auto, low, high.", "invalid_image")
    if not isinstance(url, str):
        raise _fault(at, "the image must be given as a data: URL string.", "invalid_image")
    check_data_url(url, at, max_bytes)
    image_url = {"url": url} if detail is None else {"url": url, "detail": detail}
    return {"type": "image_url", "image_url": image_url}


def check_data_url(url: str, at: str, max_bytes: int) -> None:
    """Refuse ``url`` unless it is a base64 data: URL of a PNG, JPEG, WebP or GIF that is
    what it says and at most ``max_bytes`` decoded."""
    head = _DATA_URL.match(url)
    if head is None:
        if re.match(r"[a-z][a-z0-9+.-]*:", url, re.IGNORECASE) and not url[:5].lower() == "data:":
            raise _fault(
                at,
                "only data: URLs are taken; the server does not fetch images from addresses.",
                "image_url_not_allowed",
            )
        raise _fault(at, "the image must be a base64 data: URL.", "invalid_image")
    declared = head.group(1).lower()
    if declared not in IMAGE_TYPES:
        raise _fault(at, "the image must be PNG, JPEG, WebP or GIF.", "unsupported_image_type")
    start = head.end()
    encoded = len(url) - start
    padding = url.count("=", max(start, len(url) - 2))
    if encoded // 4 * 3 - padding > max_bytes:  # known before decoding anything
        raise _fault(at, f"the image is larger than {max_bytes} bytes.", "image_too_large")
    try:
        data = binascii.a2b_base64(url[start:], strict_mode=True)
    except (binascii.Error, ValueError):
        raise _fault(at, "the image's base64 is not valid.", "invalid_image") from None
    if not data:
        raise _fault(at, "the image is empty.", "invalid_image")
    found = image_type(data[:SIGNATURE_BYTES])
    if found is None:
        raise _fault(
            at, "the data is not a PNG, JPEG, WebP or GIF image.", "unsupported_image_type"
        )
    if found != declared:
        raise _fault(
            at,
            f"the image is declared as {declared} but is a {_NAMES[found]}.",
            "image_type_mismatch",
        )
