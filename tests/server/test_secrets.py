"""The API key never leaves the server: not in a response, a header, the page or a log line,
whatever the upstream sends back. The fake upstream quotes the key in every error it can."""

from __future__ import annotations

import json

import httpx2
import pytest

from streamchat.web.static_files import static_version
from tests.support.fake_upstream import FakeUpstream, Script
from tests.support.launch import start_gunicorn_against
from tests.support.payloads import chat_body, reply_payloads, responses_payloads

# Distinct from the other tests' key so a hit here means this key, this test.
SECRET = "test-key-not-real-SECRET-9f8e7d6c5b4a"
FRAGMENTS = [SECRET, SECRET[-12:], SECRET[:20]]


def quoting_the_key(template: str) -> bytes:
    return template.replace("KEY", SECRET).encode()


ERROR_BODY = quoting_the_key('{"error":{"message":"Incorrect API key provided: KEY","code":"KEY"}}')
LEAKY_HEADERS = {"X-Echo-Authorization": f"Bearer {SECRET}"}

CHAT_PAYLOADS = reply_payloads("chatcmpl-secret", ["a", "b"])
RESPONSES_PAYLOADS = responses_payloads("resp_secret", ["a", "b"])

SCRIPTS = {
    **{
        f"status-{status}": Script(status=status, error_body=ERROR_BODY, headers=LEAKY_HEADERS)
        for status in (400, 401, 403, 404, 422, 429, 500, 502, 503)
    },
    "in-band-error": Script(payloads=[CHAT_PAYLOADS[0], ERROR_BODY], headers=LEAKY_HEADERS),
    "malformed": Script(payloads=[CHAT_PAYLOADS[0], quoting_the_key('{"x":"KEY')]),
    "error-event-name": Script(
        payloads=[CHAT_PAYLOADS[0], quoting_the_key('{"message":"KEY"}')], event_names={1: "error"}
    ),
    "reset": Script(payloads=CHAT_PAYLOADS, reset_after=1, headers=LEAKY_HEADERS),
    "stall": Script(payloads=CHAT_PAYLOADS, pauses={1: 30}),
    "responses-error": Script(
        payloads=[
            RESPONSES_PAYLOADS[0],
            quoting_the_key('{"type":"error","code":"KEY","message":"KEY","sequence_number":1}'),
        ]
    ),
    "responses-failed": Script(
        payloads=[
            RESPONSES_PAYLOADS[0],
            quoting_the_key(
                '{"type":"response.failed","sequence_number":1,'
                '"response":{"id":"r","output":[],"error":{"code":"x","message":"KEY"}}}'
            ),
        ]
    ),
}


@pytest.fixture(scope="module")
def leaky():
    with FakeUpstream() as fake:
        fake.scripts = SCRIPTS
        server = start_gunicorn_against(
            fake.base_url,
            OPENAI_API_KEY=SECRET,
            OPENAI_MODEL="status-401",
            OPENAI_MODELS=",".join(SCRIPTS),
            UPSTREAM_READ_TIMEOUT_SECONDS="1",
            HEARTBEAT_SECONDS="0.3",
            LOG_LEVEL="DEBUG",
        )
        try:
            yield fake, server
        finally:
            server.stop()


def test_the_key_appears_in_no_response_header_page_or_log_line(leaky):
    fake, server = leaky
    seen: list[str] = []
    with httpx2.Client(timeout=30) as http:
        for model in SCRIPTS:
            # Refusals through both endpoints; stream faults through the API they belong to.
            if model.startswith("status-"):
                paths = ["/api/chat", "/api/responses"]
            else:
                paths = ["/api/responses" if model.startswith("responses-") else "/api/chat"]
            for path in paths:
                response = http.post(server.url + path, json=chat_body("hi", model))
                seen.append(
                    f"{path} {model} {response.status_code} {response.headers} {response.text}"
                )
        for path in ("/", f"/static/{static_version()}/chat.js", "/nowhere"):
            response = http.get(server.url + path)
            seen.append(f"{response.headers} {response.text}")
        bad = http.post(
            server.url + "/api/chat", content=b"{", headers={"Content-Type": "application/json"}
        )
        seen.append(bad.text)

    # The key was in play: the upstream received it on every request.
    auth = {r.request["_headers"].get("authorization") for r in fake.records}
    assert auth == {f"Bearer {SECRET}"}
    assert len(fake.records) >= len(SCRIPTS)
    # And every error path was exercised, before and after the stream started.
    statuses = " ".join(seen)
    for code in (
        "upstream_auth",
        "upstream_rate_limited",
        "upstream_error",
        "upstream_malformed",
        "upstream_disconnected",
        "upstream_timeout",
        "model_not_found",
    ):
        assert code in statuses, code

    log = server.stop()
    assert '"route": "/api/chat"' in log  # the log is the real one, with request lines
    for fragment in FRAGMENTS:
        assert fragment not in statuses, f"{fragment!r} leaked into a response"
        assert fragment not in log, f"{fragment!r} leaked into the server log"
    for line in (json.loads(x) for text in seen for x in text.split("\n") if x.startswith("{")):
        assert SECRET not in json.dumps(line)
