"""A run's lines read as the reply a conversation keeps: answer, reasoning, usage and
how it ended, in each shape the upstreams stream."""

from __future__ import annotations

import json

from streamchat.conversations import read_reply


def lines(*events: dict) -> list[bytes]:
    return [json.dumps(e).encode() + b"\n" for e in events]


def chunk(delta: dict, finish: str | None = None) -> dict:
    return {"choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


def test_chat_answer_reasoning_and_usage():
    usage = {"prompt_tokens": 3, "completion_tokens": 9}
    reply = read_reply(
        "chat",
        lines(
            chunk({"role": "assistant", "content": ""}),
            chunk({"reasoning_content": "Let me "}),
            chunk({"reasoning": "think."}),
            chunk({"content": "Hello "}),
            chunk({"content": "there"}),
            chunk({}, "stop"),
            {"choices": [], "usage": usage},
        ),
        "completed",
        None,
    )
    assert (reply.content, reply.reasoning, reply.usage) == ("Hello there", "Let me think.", usage)
    assert reply.state == "done" and reply.error is None


def test_think_tags_in_content_are_reasoning():
    reply = read_reply(
        "chat",
        lines(chunk({"content": "<think>Hm"}), chunk({"content": "m.</think>\n\nYes."})),
        "completed",
        None,
    )
    assert (reply.content, reply.reasoning) == ("Yes.", "Hmm.")


def test_how_it_ended():
    cut_short = lines(chunk({"content": "a"}), chunk({}, "length"))
    assert read_reply("chat", cut_short, "completed", None).state == "incomplete"
    partial = lines(chunk({"content": "a"}))
    assert read_reply("chat", partial, "stopped", None).state == "stopped"
    assert read_reply("chat", partial, "client_disconnected", None).state == "cut off"
    failed = lines(
        chunk({"content": "a"}),
        {"choices": [], "error": {"message": "The model provider failed.", "code": "x"}},
    )
    reply = read_reply("chat", failed, "upstream_error", "upstream_error")
    assert (reply.state, reply.error, reply.content) == ("error", "The model provider failed.", "a")


def test_responses_answer_reasoning_parts_and_usage():
    usage = {"input_tokens": 4, "output_tokens": 6}
    reply = read_reply(
        "responses",
        lines(
            {"type": "response.created", "response": {}},
            {
                "type": "response.reasoning_summary_text.delta",
                "item_id": "r",
                "summary_index": 0,
                "delta": "First.",
            },
            {
                "type": "response.reasoning_summary_text.delta",
                "item_id": "r",
                "summary_index": 1,
                "delta": "Second.",
            },
            {"type": "response.output_text.delta", "delta": "Hi"},
            {"type": "response.completed", "response": {"usage": usage}},
        ),
        "completed",
        None,
    )
    assert (reply.content, reply.reasoning, reply.usage) == ("Hi", "First.\n\nSecond.", usage)
    incomplete = lines({"type": "response.incomplete", "response": {"usage": usage}})
    assert read_reply("responses", incomplete, "completed", None).state == "incomplete"
    error = lines({"type": "error", "code": "x", "message": "Went wrong."})
    assert read_reply("responses", error, "upstream_error", "x").error == "Went wrong."


def test_nothing_and_nonsense_read_as_an_empty_reply():
    assert read_reply("chat", [], "client_disconnected", None).content == ""
    assert read_reply("chat", [b"not json\n"], "completed", None).content == ""
    odd = lines({"choices": [5, {"delta": None}]}, [1, 2])
    assert read_reply("chat", odd, "completed", None).state == "done"


def test_nonsense_in_responses_events_reads_as_nothing():
    odd = lines(
        {"type": "response.completed", "response": "x"},
        {"type": "response.failed", "response": {"error": 5}},
        {"type": "response.completed", "response": {"usage": [1]}},
    )
    reply = read_reply("responses", odd, "completed", None)
    assert reply.usage is None and reply.content == ""
