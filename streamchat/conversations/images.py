"""The images inside a conversation's messages (content parts carrying ``data:`` URLs,
as the API takes them), counted against what one person may keep on the server
(MAX_STORED_IMAGE_BYTES_PER_USER); past it, a message is kept with a note where each
image was, never silently without it."""

from __future__ import annotations

NOT_KEPT = (
    "[An image was attached here. It was not kept: the images stored for this account "
    "reached their limit. Editing or regenerating this turn sends it without the image.]"
)
# Each API's image part, and the text part that stands in for it.
_TEXT_FOR = {"image_url": "text", "input_image": "input_text"}


def _image_url(part: dict) -> str | None:
    url = part.get("image_url")
    if isinstance(url, dict):
        url = url.get("url")
    return url if isinstance(url, str) else None


def image_bytes(content: object) -> int:
    """How many bytes of images ``content`` carries (its data URLs' length)."""
    if not isinstance(content, list):
        return 0
    return sum(
        len(_image_url(part) or "")
        for part in content
        if isinstance(part, dict) and part.get("type") in _TEXT_FOR
    )


def without_images(content: list) -> list:
    """``content`` with each image part replaced by a text part that says so."""
    return [
        {"type": _TEXT_FOR[part["type"]], "text": NOT_KEPT}
        if isinstance(part, dict) and part.get("type") in _TEXT_FOR
        else part
        for part in content
    ]
