"""Sign-in test values: obviously fake secrets, one password user made once per run,
and the settings of an app with AUTH=password."""

from __future__ import annotations

from functools import cache

import httpx2

from streamchat.identity.accounts import hash_password, new_token, token_digest
from tests.support.payloads import CHAT, reply_payloads, sse_body

# Shaped so nobody mistakes them for real ones, and so a leak is easy to grep for.
TEST_SECRET_KEY = "test-secret-key-not-real-0123456789abcdef"
TEST_USER = "alice"
TEST_PASSWORD = "test-password-not-real"
OTHER_USER = "bob"
OTHER_PASSWORD = "other-password-not-real"


@cache
def user_entries() -> str:
    """AUTH_USERS for alice and bob (scrypt is slow: hashed once per run)."""
    alice = f"{TEST_USER}:{hash_password(TEST_PASSWORD)}"
    return f"{alice},{OTHER_USER}:{hash_password(OTHER_PASSWORD)}"


@cache
def api_token() -> tuple[str, str]:
    """(a token, its API_TOKENS entry) for the program called ``ci``."""
    token = new_token()
    return token, f"ci:{token_digest(token)}"


def password_settings(**settings: str) -> dict[str, str]:
    """The settings of an app with AUTH=password, alice, bob and the ``ci`` token."""
    return {
        "AUTH": "password",
        "SECRET_KEY": TEST_SECRET_KEY,
        "AUTH_USERS": user_entries(),
        "API_TOKENS": api_token()[1],
        **settings,
    }


def sign_in(client, user: str = TEST_USER, password: str = TEST_PASSWORD, **kwargs):
    """POST the sign-in form; the response."""
    return client.post("/login", data={"username": user, "password": password}, **kwargs)


def ok_upstream(request: httpx2.Request) -> httpx2.Response:
    """An SDK transport handler answering every request with a short streamed reply."""
    body = sse_body(reply_payloads("chatcmpl-signin", ["ok"]))
    return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=body)


def chat_status(client, **kwargs) -> int:
    """POST a chat and read the whole reply: a streamed body left unread would close its
    request context later, inside some other request, and break that one."""
    response = client.post("/api/chat", json=CHAT, **kwargs)
    response.get_data()
    response.close()
    return response.status_code
