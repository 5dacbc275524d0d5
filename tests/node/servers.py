"""Starts the servers the Node interop tests read from, all on 127.0.0.1.

Prints one JSON line with their URLs, then runs until its standard input closes, and
stops them. Run from the repository root: ``.venv/bin/python -m tests.node.servers``.
"""

from __future__ import annotations

import json
import sys

from tests.support.fake_upstream import FakeUpstream, Script
from tests.support.launch import start_gunicorn, start_gunicorn_against
from tests.support.payloads import reply_payloads, responses_payloads

WORDS = ["Inter", "op", " wörks", " ✓"]


def scripts() -> dict[str, Script]:
    """What the fake upstream answers, by the model the request names."""
    chat = reply_payloads("chatcmpl-node", WORDS)
    responses = responses_payloads("resp_node", WORDS)
    return {
        # A slow first token, so heartbeat lines come before it.
        "fake-chat": Script(payloads=chat, first_delay=0.5, interval=0.15),
        "fake-chat-cut": Script(payloads=chat[:3], interval=0.05, send_done=False),
        "fake-responses": Script(payloads=responses, first_delay=0.5, interval=0.15),
        "fake-responses-cut": Script(payloads=responses[:4], interval=0.05, send_done=False),
    }


def main() -> None:
    """Start everything, announce the URLs, wait for stdin to close, stop everything."""
    with FakeUpstream() as fake:
        fake.scripts = scripts()
        fake.script = Script(status=404, error_body=b'{"error":{"message":"unknown model"}}')
        servers = {
            "demo": start_gunicorn(DEMO_TOKENS_PER_SECOND="100", HEARTBEAT_SECONDS="0.05"),
            "upstream": start_gunicorn_against(
                fake.base_url,
                OPENAI_MODEL="fake-chat",
                OPENAI_MODELS=",".join(fake.scripts),
                HEARTBEAT_SECONDS="0.2",
                # A run outlives the reader that hangs up, for the resume tests.
                RUN_GRACE_SECONDS="30",
            ),
        }
        try:
            urls = {name: server.url for name, server in servers.items()}
            urls["words"] = WORDS
            print(json.dumps(urls), flush=True)
            sys.stdin.read()
        finally:
            for server in servers.values():
                server.stop()


if __name__ == "__main__":
    main()
