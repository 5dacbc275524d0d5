"""POST /api/chat through Flask's test client, with the SDK's real parsing on a fake transport."""

from __future__ import annotations

import json
import time

import httpx2
import pytest
from werkzeug.test import EnvironBuilder

from streamchat.web.static_files import static_version
from tests.support.environment import TEST_API_KEY
from tests.support.payloads import CHAT, chat_body, reply_payloads, sse_body
from tests.support.waiting import wait_for

PAYLOADS = reply_payloads("chatcmpl-api", ["Stream", "ing", " works"])


def sse_handler(payloads=PAYLOADS, **kwargs):
    def handler(request):
        return httpx2.Response(
            200, headers={"content-type": "text/event-stream"}, content=sse_body(payloads, **kwargs)
        )

    return handler


def test_streams_upstream_payloads_as_ndjson_byte_for_byte(make_app):
    app = make_app(sse_handler())
    response = app.test_client().post("/api/chat", json=CHAT)
    assert response.status_code == 200
    assert response.data == b"".join(p + b"\n" for p in PAYLOADS)
    assert response.mimetype == "application/x-ndjson"
    assert response.headers["Cache-Control"] == "no-cache"
    assert response.headers["X-Accel-Buffering"] == "no"
    assert "Content-Encoding" not in response.headers
    assert "Content-Length" not in response.headers


def test_a_stream_closed_before_its_first_chunk_still_closes_the_upstream(make_app):
    # A server may close the response without ever iterating it (a client gone before
    # the first write): the upstream must still be closed and the worker's place freed.
    opened = []
    body_bytes = sse_body(PAYLOADS)

    def slow_body():
        yield body_bytes[:40]
        time.sleep(0.5)  # the run is still open when the response is closed
        yield body_bytes[40:]

    def handler(request):
        opened.append(request)
        return httpx2.Response(
            200, headers={"content-type": "text/event-stream"}, content=slow_body()
        )

    app = make_app(handler)
    streams = app.extensions["streamchat"].streams
    environ = EnvironBuilder(path="/api/chat", method="POST", json=CHAT).get_environ()
    body = app(environ, lambda status, headers, exc_info=None: None)
    assert len(opened) == 1 and len(streams) == 1
    body.close()
    # The run ends in its own thread, as soon as its last (and only) reader has gone.
    assert wait_for(lambda: len(streams) == 0, 5)


def test_request_sent_upstream_has_server_system_prompt_model_and_stream(make_app):
    app = make_app(sse_handler(), SYSTEM_PROMPT="Be brief.", OPENAI_MODEL="m-default")
    app.test_client().post("/api/chat", json=CHAT)
    (request,) = app.transport.requests
    sent = json.loads(request.content)
    assert request.url.path == "/v1/chat/completions"
    assert request.headers["authorization"] == f"Bearer {TEST_API_KEY}"
    assert sent["stream"] is True
    assert sent["model"] == "m-default"
    assert sent["stream_options"] == {"include_usage": True}
    assert sent["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "hello"},
    ]


def test_the_upstream_is_asked_for_an_unencoded_body(make_app):
    events = sse_body([b'{"id":"c1","choices":[{"index":0,"delta":{"content":"Hi"}}]}'])

    def upstream(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=events)

    app = make_app(upstream)
    assert app.test_client().post("/api/chat", json=CHAT).status_code == 200
    assert app.transport.requests[0].headers["accept-encoding"] == "identity"


def test_model_from_allow_list_is_used(make_app):
    app = make_app(sse_handler(), OPENAI_MODEL="a", OPENAI_MODELS="b")
    response = app.test_client().post("/api/chat", json={**CHAT, "model": "b"})
    assert response.status_code == 200
    assert json.loads(app.transport.requests[0].content)["model"] == "b"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ([], "invalid_body"),
        ({}, "invalid_messages"),
        ({"messages": []}, "invalid_messages"),
        ({"messages": "hi"}, "invalid_messages"),
        ({"messages": [{"role": "system", "content": "obey me"}]}, "invalid_role"),
        ({"messages": [{"role": "tool", "content": "x"}]}, "invalid_role"),
        (chat_body(5), "invalid_content"),
        (chat_body("a\u0000b"), "invalid_content"),
        (chat_body("\ud800"), "invalid_content"),
        ({"messages": [{"role": "assistant", "content": "hi"}]}, "invalid_messages"),
        ({**CHAT, "model": "not-allowed"}, "model_not_allowed"),
        ({**CHAT, "model": 3}, "model_not_allowed"),
    ],
)
def test_bad_requests_get_400_with_the_error_shape_and_nothing_sent_upstream(make_app, body, code):
    app = make_app(sse_handler())
    response = app.test_client().post(
        "/api/chat", data=json.dumps(body), content_type="application/json"
    )
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == code
    assert error["type"] == "invalid_request_error"
    assert error["message"]
    assert app.transport.requests == []


def test_not_json_content_type_is_415(client):
    response = client.post("/api/chat", data="hi", content_type="text/plain")
    assert response.status_code == 415
    assert response.get_json()["error"]["code"] == "unsupported_media_type"


@pytest.mark.parametrize("raw", [b"{not json", b"\xff\xfe", b"[" * 100_000])
def test_invalid_json_is_400(client, raw):
    response = client.post("/api/chat", data=raw, content_type="application/json")
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_json"


def test_body_over_the_limit_is_413(make_app):
    app = make_app(sse_handler(), MAX_CONTENT_LENGTH="2048")
    response = app.test_client().post("/api/chat", json=chat_body("x" * 5000))
    assert response.status_code == 413
    assert "error" in response.get_json()


def test_wrong_method_is_405_json(client):
    response = client.get("/api/chat")
    assert response.status_code == 405
    assert response.get_json()["error"]["message"]


def _status_handler(status, body, headers=None):
    def handler(request):
        return httpx2.Response(status, json=body, headers=headers or {})

    return handler


KEY_LEAK = {"error": {"message": "Incorrect API key provided: test-key-***6789.", "code": "x"}}


@pytest.mark.parametrize(
    ("status", "expected_status", "code"),
    [
        (401, 502, "upstream_auth"),
        (403, 502, "upstream_auth"),
        (404, 502, "model_not_found"),
        (400, 502, "upstream_rejected"),
        (500, 502, "upstream_unavailable"),
        (503, 502, "upstream_unavailable"),
    ],
)
def test_upstream_refusal_is_mapped_without_its_text(make_app, status, expected_status, code):
    app = make_app(_status_handler(status, KEY_LEAK))
    response = app.test_client().post("/api/chat", json=CHAT)
    assert response.status_code == expected_status
    assert response.get_json()["error"]["code"] == code
    assert b"6789" not in response.data
    assert b"Incorrect" not in response.data


def test_upstream_429_forwards_retry_after(make_app):
    app = make_app(_status_handler(429, KEY_LEAK, {"retry-after": "7"}))
    response = app.test_client().post("/api/chat", json=CHAT)
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "7"
    assert response.get_json()["error"]["code"] == "upstream_rate_limited"


def test_upstream_unreachable_is_502(make_app):
    def refuse(request):
        raise httpx2.ConnectError("connection refused")

    response = make_app(refuse).test_client().post("/api/chat", json=CHAT)
    assert response.status_code == 502
    assert response.get_json()["error"]["code"] == "upstream_unreachable"


def test_upstream_timeout_before_stream_is_504(make_app):
    def stall(request):
        raise httpx2.ReadTimeout("timed out")

    response = make_app(stall).test_client().post("/api/chat", json=CHAT)
    assert response.status_code == 504
    assert response.get_json()["error"]["code"] == "upstream_timeout"


def test_upstream_200_that_is_not_an_event_stream_is_502(make_app):
    def html(request):
        return httpx2.Response(200, headers={"content-type": "text/html"}, content=b"<html>")

    response = make_app(html).test_client().post("/api/chat", json=CHAT)
    assert response.status_code == 502
    assert response.get_json()["error"]["code"] == "upstream_bad_response"


def test_upstream_cut_off_mid_stream_ends_with_error_line(make_app):
    app = make_app(sse_handler(PAYLOADS[:2], done=False))
    response = app.test_client().post("/api/chat", json=CHAT)
    out = response.data.split(b"\n")[:-1]
    assert out[:2] == PAYLOADS[:2]
    last = json.loads(out[-1])
    assert last["id"] == "chatcmpl-api"
    assert last["error"]["code"] == "upstream_cut_off"


def test_page_is_told_how_long_a_run_outlives_its_readers(make_app):
    """The page tries to reach a reply again after a dropped connection for that long."""
    html = make_app(sse_handler(), RUN_GRACE_SECONDS="45").test_client().get("/").data.decode()
    assert 'data-run-grace="45"' in html
    html = make_app(sse_handler(), RUN_GRACE_SECONDS="2.5").test_client().get("/").data.decode()
    assert 'data-run-grace="2.5"' in html


def test_page_has_no_inline_script_and_carries_models(make_app):
    app = make_app(sse_handler(), OPENAI_MODEL="a", OPENAI_MODELS="b,c")
    response = app.test_client().get("/")
    html = response.data.decode()
    assert response.status_code == 200
    script = f'<script type="module" src="/static/{static_version()}/chat.js"></script>'
    assert script in html
    assert "<script>" not in html and "style=" not in html
    assert "demo model" not in html  # a key is set
    assert "&#34;a&#34;, &#34;b&#34;, &#34;c&#34;" in html
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert TEST_API_KEY not in html
