"""An image's input tokens by OpenAI's tile rule (docs/budgets.md, "Images"), its size
read from each format's header, and the estimate's place in a budget: reserved before
the run, replaced by the reported usage when it ends."""

from __future__ import annotations

import base64

import pytest

from streamchat.budgets import estimate_input_tokens
from streamchat.budgets.counting import TOKENS_PER_MESSAGE, TOKENS_PER_REPLY
from streamchat.budgets.image_headers import image_size, image_type
from streamchat.budgets.images import MAX_IMAGE_TOKENS, data_url_size, image_tokens
from tests.support.budgets import reply, sse_handler
from tests.support.images import (
    chat_image,
    data_url,
    gif_header,
    image_message,
    jpeg_header,
    png,
    webp_vp8,
    webp_vp8l,
    webp_vp8x,
)
from tests.support.payloads import counted_reply


@pytest.mark.parametrize(
    ("width", "height", "detail", "tokens"),
    [
        # OpenAI's worked examples: 1024 square is scaled to 768 (4 tiles); 2048 x 4096
        # fits to 1024 x 2048, then 768 x 1536 (6 tiles); any size at low detail is 85.
        (1024, 1024, "high", 765),
        (2048, 4096, "high", 1105),
        (4096, 8192, "low", 85),
        (512, 512, None, 255),  # one tile; never scaled up
        (513, 512, "auto", 425),
        (100, 3000, "high", 85 + 170 * 4),  # 68 x 2048: 1 x 4 tiles
        (768, 2048, "high", MAX_IMAGE_TOKENS),
        (30000, 1, "high", 85 + 170 * 4),  # 2048 x 1 (rounded): 4 x 1
    ],
)
def test_the_tile_rule(width, height, detail, tokens):
    assert image_tokens(width, height, detail) == tokens


@pytest.mark.parametrize(
    ("data", "media_type", "size"),
    [
        (png(3, 2), "image/png", (3, 2)),
        (png(1024, 768), "image/png", (1024, 768)),
        (jpeg_header(1920, 1080), "image/jpeg", (1920, 1080)),
        (jpeg_header(640, 480, app_segments=40), "image/jpeg", (640, 480)),
        (gif_header(320, 200), "image/gif", (320, 200)),
        (webp_vp8(800, 600), "image/webp", (800, 600)),
        (webp_vp8l(1000, 2000), "image/webp", (1000, 2000)),
        (webp_vp8x(16383, 70000), "image/webp", (16383, 70000)),
    ],
)
def test_the_size_is_read_from_each_formats_header(data, media_type, size):
    assert image_type(data[:16]) == media_type
    assert image_size(media_type, lambda at, n: data[at : at + n]) == size
    # Read from the data: URL's base64 a few bytes at a time, it is the same.
    assert data_url_size(data_url(data, media_type)) == size


@pytest.mark.parametrize(
    "data",
    [
        png(3, 2)[:20],  # cut inside IHDR
        jpeg_header(10, 10, app_segments=300),  # past the segments walked
        b"\xff\xd8\xff\xda" + b"\0" * 40,  # scan data before any frame header
        b"RIFF\x10\0\0\0WEBPVP8 " + b"\0" * 20,  # no key frame start code
        b"GIF89a\0\0\0\0",  # zero size
    ],
)
def test_a_header_that_does_not_say_counts_as_the_largest_image(data):
    url = data_url(data, image_type(data[:16]))
    assert data_url_size(url) is None
    body = image_message("", chat_image(url))["messages"]
    assert estimate_input_tokens(body) == MAX_IMAGE_TOKENS + TOKENS_PER_MESSAGE + TOKENS_PER_REPLY


def test_the_input_estimate_counts_text_and_images():
    big = data_url(png(1024, 1024))
    messages = [
        {"role": "system", "content": "Be brief."},  # 9 bytes: at most 9 tokens
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "what are these?"},  # 15 bytes
                chat_image(big),
                chat_image(big, detail="low"),
            ],
        },
    ]
    # No model named: the text by its bytes (the bound for an unknown tokenizer).
    text = len(b"Be brief.") + len(b"what are these?")
    assert estimate_input_tokens(messages) == (
        text + 765 + 85 + 2 * TOKENS_PER_MESSAGE + TOKENS_PER_REPLY
    )


def test_the_estimate_never_decodes_the_whole_image():
    # A header with megabytes of image after it: only the quads holding the header are
    # decoded, so base64 that is bad further on does not matter to the size.
    url = data_url(png(640, 480)) + "A" * 4_000_000 + "*bad"
    assert data_url_size(url) == (640, 480)
    assert base64.b64decode(data_url(png(640, 480))[22:])[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_run_reserves_the_image_estimate_and_is_then_counted_by_its_usage(make_app):
    reported = counted_reply("chatcmpl-img", prompt=900, completion=20)  # 920 tokens
    app = make_app(sse_handler(reported), TOKEN_BUDGET="1000/day", MAX_OUTPUT_TOKENS="100")
    client = app.test_client()
    small = image_message("hi", chat_image(data_url(png(512, 512))))  # 255 + text
    large = image_message("hi", chat_image(data_url(png(2048, 2048))))  # 765 + text
    huge = image_message("hi", chat_image(data_url(png(768, 2048))))  # 1445: over it all
    refused = client.post("/api/chat", json=huge)
    assert refused.json["error"]["code"] == "conversation_over_budget"
    assert reply(client, small).status_code == 200
    # Counted by what the upstream reported, not by the estimate (255 + 2 + 8 + 100).
    assert client.get("/api/budget").json["used"] == 920
    # 80 left: too little for the large image's estimate, enough for text.
    assert reply(client, large).json["error"]["code"] == "budget_exhausted"
    assert len(app.transport.requests) == 1
