"""Images sent with a message, and how much request body a worker reads at once: the
image settings, parsed and checked at start-up (docs/configuration.md)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .values import SettingsError, integer

MIB = 1 << 20
# What the text of a conversation may take in a body: the limit MAX_CONTENT_LENGTH had
# before images (MAX_TOTAL_CHARS' 200,000 characters, JSON-escaped, fit in it).
TEXT_BODY_BYTES = 1_000_000
# "data:image/jpeg;base64," and the JSON around one image part.
_PART_OVERHEAD_BYTES = 96


@dataclass(frozen=True)
class ImageSettings:
    """MAX_IMAGES_PER_MESSAGE, MAX_IMAGE_BYTES and MAX_BODY_BYTES_IN_FLIGHT."""

    max_per_message: int = 4
    max_bytes: int = 5 * MIB  # one decoded image
    # Request bodies one worker reads at once, in bytes; past it 503 before reading.
    max_body_bytes_in_flight: int = 64 * MIB


def image_part_bytes(max_image_bytes: int) -> int:
    """The most one image part takes in a request body: its bytes as base64 (4 characters
    for every 3 bytes) in a data: URL, and the JSON around it."""
    return 4 * math.ceil(max_image_bytes / 3) + _PART_OVERHEAD_BYTES


def default_max_content_length(images: ImageSettings) -> int:
    """MAX_CONTENT_LENGTH's default: the text's room and one message's worth of images at
    their largest (about 29 MB with the defaults)."""
    return TEXT_BODY_BYTES + images.max_per_message * image_part_bytes(images.max_bytes)


def load_image_settings(source: Mapping[str, Any]) -> ImageSettings:
    """The image settings from ``source`` (the environment and create_app's overrides)."""
    return ImageSettings(
        max_per_message=integer(source, "MAX_IMAGES_PER_MESSAGE", 4, minimum=0),
        max_bytes=integer(source, "MAX_IMAGE_BYTES", 5 * MIB, minimum=1024),
        max_body_bytes_in_flight=integer(
            source, "MAX_BODY_BYTES_IN_FLIGHT", 64 * MIB, minimum=64 * 1024
        ),
    )


def load_max_content_length(source: Mapping[str, Any], images: ImageSettings) -> int:
    """MAX_CONTENT_LENGTH from ``source``; it must fit in MAX_BODY_BYTES_IN_FLIGHT."""
    limit = integer(source, "MAX_CONTENT_LENGTH", default_max_content_length(images), minimum=1024)
    if images.max_body_bytes_in_flight < limit:
        # A body of the largest size could never be read.
        raise SettingsError(
            f"MAX_BODY_BYTES_IN_FLIGHT ({images.max_body_bytes_in_flight}) must be at least "
            f"MAX_CONTENT_LENGTH ({limit})"
        )
    return limit
