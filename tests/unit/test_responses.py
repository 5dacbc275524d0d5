"""POST /api/responses: Responses API events relayed as NDJSON, and the relay's rules for them."""

from __future__ import annotations

import json

import httpx2
import openai
import pytest

from streamchat.relay.ndjson import ndjson_lines
from streamchat.relay.protocols import ResponsesProtocol
from streamchat.upstream.demo import DemoTransport
from tests.support.payloads import CHAT, chat_body


def event(kind: str, sequence: int, **fields) -> bytes:
    return json.dumps({"type": kind, "sequence_number": sequence, **fields}).encode()


EVENTS = [
    event("response.created", 0, response={"id": "resp_1", "output": [], "error": None}),
    event(
        "response.output_text.delta", 1, item_id="m", output_index=0, content_index=0, delta="Hi"
    ),
    event("response.output_text.delta", 2, item_id="m", output_index=0, content_index=0, delta="!"),
    event("response.completed", 3, response={"id": "resp_1", "status": "completed", "error": None}),
]


def sse_events(events: list[bytes]) -> bytes:
    """Responses SSE as OpenAI sends it: an event line, a data line, a blank line."""
    return b"".join(
        b"event: " + json.loads(e)["type"].encode() + b"\ndata: " + e + b"\n\n" for e in events
    )


def lines(output) -> list[bytes]:
    return b"".join(output).split(b"\n")[:-1]


def test_events_relay_byte_for_byte_and_end_after_completed():
    assert b"".join(ndjson_lines([sse_events(EVENTS)], ResponsesProtocol())) == b"".join(
        e + b"\n" for e in EVENTS
    )


def test_cut_off_before_completed_ends_with_next_numbered_error_event():
    out = lines(ndjson_lines([sse_events(EVENTS[:2])], ResponsesProtocol()))
    assert out[:2] == EVENTS[:2]
    assert json.loads(out[2]) == {
        "type": "error",
        "code": "upstream_cut_off",
        "message": "The model provider ended the reply before it was done.",
        "param": None,
        "sequence_number": 2,
    }


@pytest.mark.parametrize(
    "failure",
    [
        event("error", 2, code="server_error", message="key test-key-***6789 invalid"),
        event("response.failed", 2, response={"error": {"message": "key test-key-***6789"}}),
    ],
)
def test_upstream_failure_events_are_replaced_by_ours(failure):
    output = b"".join(
        ndjson_lines([sse_events([*EVENTS[:2], failure, *EVENTS[2:]])], ResponsesProtocol())
    )
    out = output.split(b"\n")[:-1]
    assert out[:2] == EVENTS[:2]
    assert len(out) == 3
    last = json.loads(out[2])
    assert (last["type"], last["code"], last["sequence_number"]) == ("error", "upstream_error", 2)
    assert b"6789" not in output


def test_incomplete_is_a_normal_end():
    incomplete = event("response.incomplete", 2, response={"status": "incomplete"})
    output = b"".join(ndjson_lines([sse_events([*EVENTS[:2], incomplete])], ResponsesProtocol()))
    assert b'"type":"error"' not in output


def test_api_sends_instructions_input_and_relays_bytes(make_app):
    def handler(request):
        return httpx2.Response(
            200, headers={"content-type": "text/event-stream"}, content=sse_events(EVENTS)
        )

    app = make_app(handler, SYSTEM_PROMPT="Be brief.")
    response = app.test_client().post("/api/responses", json=CHAT)
    assert response.status_code == 200
    assert response.mimetype == "application/x-ndjson"
    assert response.data == b"".join(e + b"\n" for e in EVENTS)
    (request,) = app.transport.requests
    sent = json.loads(request.content)
    assert request.url.path == "/v1/responses"
    assert sent["instructions"] == "Be brief."
    assert sent["input"] == CHAT["messages"]
    assert sent["stream"] is True
    assert sent["store"] is False


def test_api_validates_like_chat(make_app):
    app = make_app(lambda request: httpx2.Response(500))
    response = app.test_client().post("/api/responses", json={"messages": []})
    assert response.status_code == 400
    assert app.transport.requests == []


def test_upstream_refusal_maps_like_chat(make_app):
    app = make_app(lambda request: httpx2.Response(401, json={"error": {"message": "sk-x"}}))
    response = app.test_client().post("/api/responses", json=CHAT)
    assert response.status_code == 502
    assert response.get_json()["error"]["code"] == "upstream_auth"


def demo_sdk_client() -> openai.OpenAI:
    transport = DemoTransport(tokens_per_second=5000)
    return openai.OpenAI(
        api_key="demo",
        base_url="http://demo.invalid/v1",
        http_client=httpx2.Client(transport=transport),
    )


def test_demo_responses_stream_is_accepted_by_the_sdks_own_accumulator():
    messages = chat_body("Say hi")["messages"]
    with demo_sdk_client().responses.stream(model="m", input=messages, instructions="x") as s:
        deltas = [e.delta for e in s if e.type == "response.output_text.delta"]
        final = s.get_final_response()
    assert final.status == "completed"
    assert final.output_text == "".join(deltas)
    assert "offline demo model" in final.output_text
    assert final.usage.output_tokens == len(deltas)


def test_demo_chat_stream_is_accepted_by_the_sdks_own_accumulator():
    messages = chat_body("Say hi")["messages"]
    with demo_sdk_client().chat.completions.stream(model="m", messages=messages) as s:
        deltas = [e.delta for e in s if e.type == "content.delta"]
        final = s.get_final_completion()
    assert final.choices[0].message.content == "".join(deltas)
    assert final.choices[0].finish_reason == "stop"


def test_demo_responses_events_are_numbered_in_order(client):
    response = client.post("/api/responses", json=CHAT)
    events = [json.loads(line) for line in response.data.split(b"\n") if line]
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    assert events[0]["type"] == "response.created"
    assert events[0]["response"]["output"] == []
    assert events[-1]["type"] == "response.completed"
    text = "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")
    assert events[-1]["response"]["output"][0]["content"][0]["text"] == text


def test_page_is_told_which_api_to_use(make_app):
    html = make_app(None, CHAT_API="responses").test_client().get("/").data.decode()
    assert 'data-api="responses"' in html
