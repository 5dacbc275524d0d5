"""A conversation as a download: Markdown to read, JSON to keep."""

from __future__ import annotations

import json
import re

from .shapes import text_of

_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._ -]+")
_ROLES = {"user": "You", "assistant": "Assistant"}


def file_name(conversation: dict, extension: str) -> str:
    """A safe file name for the download (ASCII, no path or quote characters)."""
    stem = _UNSAFE_NAME.sub("", conversation.get("title") or "").strip()[:60]
    return f"{stem or 'conversation'}.{extension}"


def as_markdown(conversation: dict) -> str:
    """``conversation`` (GET /api/conversations/<id>'s shape) as Markdown."""
    out = [f"# {conversation.get('title') or 'Conversation'}", ""]
    for message in conversation["messages"]:
        heading = _ROLES.get(message["role"], message["role"])
        state = message.get("state")
        if state and state != "done":
            heading += f" ({state})"
        out += [f"## {heading}", ""]
        if message.get("reasoning"):
            thought = "\n".join(f"> {line}" for line in message["reasoning"].splitlines())
            out += ["*Thinking:*", "", thought, ""]
        out += [text_of(message["content"]), ""]
    return "\n".join(out)


def as_json(conversation: dict) -> str:
    """``conversation`` as indented JSON, the API's own shape."""
    return json.dumps(conversation, ensure_ascii=False, indent=2) + "\n"
