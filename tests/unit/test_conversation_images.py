"""Images kept with a conversation, counted against the owner's limit: past it the
message is kept with a note where each image was, and sending it again rewrites
nothing."""

from __future__ import annotations

import sqlalchemy

from streamchat.conversations import ConversationStore
from streamchat.conversations.images import NOT_KEPT, image_bytes
from streamchat.database import prepare_engine
from tests.support.database import migrated_sqlite

IMAGE = "data:image/png;base64," + "A" * 578  # 600 characters


def store(tmp_path, limit: int) -> ConversationStore:
    engine = sqlalchemy.create_engine(migrated_sqlite(tmp_path))
    prepare_engine(engine)
    return ConversationStore(engine, 100, limit)


def with_image(text: str, kind: str = "chat") -> dict:
    if kind == "chat":
        parts = [{"type": "text", "text": text}, {"type": "image_url", "image_url": {"url": IMAGE}}]
    else:
        parts = [{"type": "input_text", "text": text}, {"type": "input_image", "image_url": IMAGE}]
    return {"role": "user", "content": parts}


def test_images_are_kept_until_the_owners_limit_then_noted(tmp_path):
    conversations = store(tmp_path, limit=1000)
    first = conversations.create("user:alice", "", None)["id"]
    second = conversations.create("user:alice", "", None)["id"]
    conversations.begin_turn("user:alice", first, [with_image("one")], "m", "r1")
    conversations.begin_turn("user:alice", second, [with_image("two", "responses")], "m", "r2")
    kept = conversations.get("user:alice", first)["messages"][0]["content"]
    noted = conversations.get("user:alice", second)["messages"][0]["content"]
    assert kept[1]["image_url"]["url"] == IMAGE
    assert noted == [
        {"type": "input_text", "text": "two"},
        {"type": "input_text", "text": NOT_KEPT},
    ]
    # Another person has a limit of their own.
    bobs = conversations.create("user:bob", "", None)["id"]
    conversations.begin_turn("user:bob", bobs, [with_image("bob")], "m", "r3")
    assert conversations.get("user:bob", bobs)["messages"][0]["content"][1]["type"] == "image_url"


def test_the_same_message_sent_again_is_not_rewritten(tmp_path):
    conversations = store(tmp_path, limit=100)  # no image fits
    chat = conversations.create("user:alice", "", None)["id"]
    conversations.begin_turn("user:alice", chat, [with_image("look")], "m", "r1")
    before = conversations.get("user:alice", chat)["messages"][0]
    sent = [with_image("look"), {"role": "assistant", "content": "ok"}, with_image("again")]
    conversations.begin_turn("user:alice", chat, sent, "m", "r2")
    after = conversations.get("user:alice", chat)["messages"]
    assert after[0]["id"] == before["id"] and len(after) == 3


def test_deleting_a_conversation_frees_its_images(tmp_path):
    conversations = store(tmp_path, limit=1000)
    first = conversations.create("user:alice", "", None)["id"]
    conversations.begin_turn("user:alice", first, [with_image("one")], "m", "r1")
    conversations.delete("user:alice", first)
    second = conversations.create("user:alice", "", None)["id"]
    conversations.begin_turn("user:alice", second, [with_image("two")], "m", "r2")
    content = conversations.get("user:alice", second)["messages"][0]["content"]
    assert content[1]["image_url"]["url"] == IMAGE


def test_image_bytes_reads_only_image_parts():
    assert image_bytes("text " * 100) == 0
    assert image_bytes(with_image("x")["content"]) == len(IMAGE)
    assert image_bytes([{"type": "image_url", "image_url": 5}, "x", {"type": "text"}]) == 0
