"""Images in a request (docs/api.md, "Images"): every bad image is a 400 that names the
part and why, with nothing sent upstream; good parts reach the upstream in the shape of
the API it is asked through; an upstream that takes no images is answered in our words;
the body bytes a worker reads at once are bounded."""

from __future__ import annotations

import io
import json

import httpx2
import pytest

from tests.support.budgets import REPLY, reply, sse_handler
from tests.support.images import (
    chat_image,
    data_url,
    gif_header,
    image_message,
    jpeg_header,
    png,
    responses_image,
)
from tests.support.payloads import CHAT

PNG_URL = data_url(png(3, 2))
GIF_URL = data_url(gif_header(10, 10), "image/gif")


@pytest.fixture
def app(make_app):
    return make_app(sse_handler())


def refused(app, body, path="/api/chat"):
    response = app.test_client().post(path, json=body)
    assert response.status_code == 400, response.data
    assert app.transport.requests == []  # nothing went upstream
    return response.get_json()["error"]


@pytest.mark.parametrize(
    ("image", "code", "words"),
    [
        (chat_image("https://example.com/cat.png"), "image_url_not_allowed", "only data: URLs"),
        (responses_image("http://127.0.0.1:9/x.png"), "image_url_not_allowed", "only data: URLs"),
        (
            chat_image(data_url(png(), "image/jpeg")),
            "image_type_mismatch",
            "declared as image/jpeg",
        ),
        (chat_image(data_url(jpeg_header(4, 4), "image/png")), "image_type_mismatch", "a JPEG"),
        (chat_image("data:image/png;base64,iVBORw0KGgo*AAA"), "invalid_image", "base64"),
        (chat_image("data:image/png;base64,iVBORw0KGgo"), "invalid_image", "base64"),
        (chat_image("data:image/png,rawbytes"), "invalid_image", "base64 data: URL"),
        (chat_image("data:image/png;base64,"), "invalid_image", "empty"),
        (chat_image(data_url(b"<svg/>", "image/svg+xml")), "unsupported_image_type", "PNG, JPEG"),
        (chat_image(data_url(b"hello there", "image/png")), "unsupported_image_type", "not a PNG"),
        (chat_image(PNG_URL, detail="huge"), "invalid_image", "'detail'"),
        ({"type": "image_url", "image_url": PNG_URL}, "invalid_image", "an object"),
        ({"type": "input_audio", "input_audio": {}}, "invalid_content", "'type'"),
    ],
)
def test_a_bad_image_is_a_400_naming_the_part(app, image, code, words):
    error = refused(app, image_message("look", image))
    assert error["code"] == code
    assert error["message"].startswith("messages[0].content[1]: ")
    assert words in error["message"]


def test_an_image_over_max_image_bytes_is_refused_before_decoding(make_app):
    app = make_app(sse_handler(), MAX_IMAGE_BYTES="2048")
    fits = data_url(png(3, 2) + b"\0" * (2048 - len(png(3, 2))))
    over = data_url(png(3, 2) + b"\0" * (2049 - len(png(3, 2))))
    assert reply(app.test_client(), image_message("ok", chat_image(fits))).status_code == 200
    app.transport.requests.clear()
    error = refused(app, image_message("big", chat_image(fits), chat_image(over)))
    assert (error["code"], error["message"]) == (
        "image_too_large",
        "messages[0].content[2]: the image is larger than 2048 bytes.",
    )


def test_the_fifth_image_of_a_message_is_refused_in_a_later_message_too(app):
    four = [chat_image(PNG_URL)] * 4
    earlier = {"role": "user", "content": [{"type": "text", "text": "a"}, *four]}
    later = {"role": "user", "content": [*four, chat_image(PNG_URL), {"type": "text", "text": "b"}]}
    body = {"messages": [earlier, {"role": "assistant", "content": "seen"}, later]}
    error = refused(app, body)
    assert error["code"] == "too_many_images"
    assert error["message"] == "messages[2].content[4]: at most 4 images per message."


def test_images_only_in_user_messages_and_not_at_all_with_a_limit_of_0(make_app):
    app = make_app(sse_handler())
    body = {
        "messages": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": [chat_image(PNG_URL)]},
            {"role": "user", "content": "and?"},
        ]
    }
    assert refused(app, body)["code"] == "images_not_allowed"
    off = make_app(sse_handler(), MAX_IMAGES_PER_MESSAGE="0")
    assert refused(off, image_message("x", chat_image(PNG_URL)))["code"] == "images_not_allowed"


def test_an_empty_list_of_parts_and_text_limits_of_parts(make_app):
    app = make_app(sse_handler(), MAX_MESSAGE_CHARS="10")
    assert refused(app, {"messages": [{"role": "user", "content": []}]})["code"] == (
        "invalid_content"
    )
    parts = [{"type": "text", "text": "123456"}, {"type": "input_text", "text": "78901"}]
    assert refused(app, {"messages": [{"role": "user", "content": parts}]})["code"] == (
        "message_too_long"
    )
    nul = [{"type": "text", "text": "a\x00b"}]
    assert refused(app, {"messages": [{"role": "user", "content": nul}]})["code"] == (
        "invalid_content"
    )


@pytest.mark.parametrize("image", [chat_image, responses_image])
def test_chat_parts_reach_the_upstream_as_chat_parts(app, image):
    body = image_message("what is this?", image(PNG_URL), image(GIF_URL, detail="low"))
    assert reply(app.test_client(), body).status_code == 200
    (sent,) = [json.loads(r.content) for r in app.transport.requests]
    assert sent["messages"][1] == {
        "role": "user",
        "content": [
            {"type": "text", "text": "what is this?"},
            {"type": "image_url", "image_url": {"url": PNG_URL}},
            {"type": "image_url", "image_url": {"url": GIF_URL, "detail": "low"}},
        ],
    }


@pytest.mark.parametrize("image", [chat_image, responses_image])
def test_responses_parts_reach_the_upstream_as_responses_parts(make_app, image):
    app = make_app(sse_handler())
    text = {"type": "input_text", "text": "and this?"}
    body = {
        "messages": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": [{"type": "text", "text": "hello"}]},
            {"role": "user", "content": [text, image(PNG_URL, detail="high")]},
        ]
    }
    app.test_client().post("/api/responses", json=body).get_data()
    (sent,) = [json.loads(r.content) for r in app.transport.requests]
    assert sent["input"] == [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello"},
        {
            "role": "user",
            "content": [
                {"type": "input_text", "text": "and this?"},
                {"type": "input_image", "image_url": PNG_URL, "detail": "high"},
            ],
        },
    ]


def _refusing(status, message):
    def handler(request):
        return httpx2.Response(status, json={"error": {"message": message, "type": "x"}})

    return handler


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (400, "Invalid content type. image_url is only supported by certain models."),
        (400, "this model does not support image input"),
        (500, 'Failed to parse messages: Unsupported content part type: "image_url"'),
        (400, "The model secret-model-17 is not a multimodal model"),
    ],
)
def test_an_upstream_that_takes_no_images_is_answered_in_our_words(make_app, status, message):
    app = make_app(_refusing(status, message))
    response = app.test_client().post("/api/chat", json=image_message("x", chat_image(PNG_URL)))
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == "images_not_supported"
    assert "does not take images" in error["message"]
    for word in ("image_url", "support", "secret-model-17", "parse"):
        assert word not in error["message"]
    # The same refusal of a request without images is the provider's, as before.
    plain = app.test_client().post("/api/chat", json=CHAT)
    code = "upstream_rejected" if status == 400 else "upstream_unavailable"
    assert (plain.status_code, plain.get_json()["error"]["code"]) == (502, code)


def test_body_bytes_past_the_bound_are_refused_before_the_body_is_read(make_app):
    app = make_app(sse_handler(REPLY), MAX_BODY_BYTES_IN_FLIGHT="65536", MAX_CONTENT_LENGTH="65536")
    bodies = app.extensions["streamchat"].body_bytes
    client = app.test_client()
    body = image_message("x", chat_image(PNG_URL))
    size = len(json.dumps(body))
    bodies.taken = 65536 - size + 1  # others' bodies being read: one byte short of room
    response = client.post("/api/chat", json=body)
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "server_busy"
    assert response.headers["Retry-After"] == "2"
    assert app.transport.requests == []
    bodies.taken -= 1  # now it just fits
    assert reply(client, body).status_code == 200
    # A chunked body (no Content-Length) takes the largest size a body may have.
    chunked = client.post(
        "/api/chat",
        input_stream=io.BytesIO(json.dumps(body).encode()),
        content_type="application/json",
        headers={"Transfer-Encoding": "chunked"},
    )
    assert (chunked.status_code, chunked.get_json()["error"]["code"]) == (503, "server_busy")
    bodies.taken = 0
    refused_body = client.post("/api/chat", json=image_message("x", chat_image("https://x")))
    assert refused_body.status_code == 400
    assert bodies.taken == 0  # given back after a success and after a refusal alike
