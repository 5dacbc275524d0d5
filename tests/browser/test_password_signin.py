"""Password sign-in in Chromium against the real server (AUTH=password), with the user
made by the CLI the way docs/sign-in.md says: the gate, a wrong and a right password, a
streamed reply, and sign-out."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from streamchat.web.signin import WRONG
from tests.support.browser import open_chat_page
from tests.support.environment import ROOT, TEST_API_KEY, server_env
from tests.support.fake_upstream import Script
from tests.support.launch import RunningServer, start_gunicorn_against
from tests.support.payloads import reply_payloads
from tests.support.signin import TEST_SECRET_KEY

USER = "carol"
PASSWORD = "browser-password-not-real-7"


def create_user(name: str, password: str) -> str:
    """``flask --app app create-user NAME``, the password piped in twice; its one line."""
    done = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "app", "create-user", name],
        cwd=ROOT,
        env=server_env(),
        input=f"{password}\n{password}\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    (entry,) = done.stdout.splitlines()
    return entry


@pytest.fixture(scope="module")
def password_server(fake_upstream) -> Iterator[RunningServer]:
    entry = create_user(USER, PASSWORD)
    assert entry.startswith(f"{USER}:scrypt:")
    server = start_gunicorn_against(
        fake_upstream.base_url, AUTH="password", SECRET_KEY=TEST_SECRET_KEY, AUTH_USERS=entry
    )
    try:
        yield server
    finally:
        output = server.stop()
        for secret in (PASSWORD, TEST_SECRET_KEY, TEST_API_KEY):
            assert secret not in output


def path_of(url: str) -> str:
    return urlsplit(url).path


def session_cookies(chat) -> list[dict]:
    return [c for c in chat.context.cookies() if c["name"] == "session"]


def submit(page, server: RunningServer, password: str) -> int:
    """Fill the sign-in form and post it; the status of the POST's response."""
    page.fill("#username", USER)
    page.fill("#password", password)
    posted = lambda r: r.request.method == "POST" and path_of(r.url) == "/login"  # noqa: E731
    with page.expect_response(posted) as response:
        page.click("#sign-in")
    page.wait_for_load_state()
    return response.value.status


def test_password_sign_in_streams_a_reply_and_sign_out_ends_it(
    browser, password_server, fake_upstream
):
    server = password_server
    fake_upstream.script = Script(payloads=reply_payloads("chatcmpl-pw", ["Signed", " in"]))
    chat = open_chat_page(browser, server)
    page = chat.page

    # Anonymous: the page sends the visitor to the sign-in form.
    page.goto(server.url + "/")
    assert path_of(page.url) == "/login"
    assert page.locator("#signin-form").is_visible()

    # A wrong password: 401, the one message, still the form, and no session.
    assert submit(page, server, "wrong-password-not-real") == 401
    assert path_of(page.url) == "/login"
    assert page.locator("#signin-message").all_inner_texts() == [WRONG]
    assert session_cookies(chat) == []
    page.goto(server.url + "/")
    assert path_of(page.url) == "/login"

    # The right one: the chat page, naming the user, with a Sign out control.
    assert submit(page, server, PASSWORD) == 303
    page.wait_for_url(server.url + "/")
    page.wait_for_selector("body[data-ready]")
    assert page.inner_text("#signed-in-as") == f"Signed in as {USER}"
    assert page.locator("#sign-out").is_visible()
    (cookie,) = session_cookies(chat)
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and not cookie["secure"]

    # A message streams a reply from the upstream.
    before = len(fake_upstream.records)
    assert chat.exchange("hello") == "done"
    assert chat.reply_text().strip() == "Signed in"
    assert len(fake_upstream.records) == before + 1

    # Sign out: back to the form, the cookie gone, the page and the API closed again.
    page.click("#sign-out")
    page.wait_for_url(server.url + "/login")
    assert session_cookies(chat) == []
    page.goto(server.url + "/")
    assert path_of(page.url) == "/login"
    refused = chat.context.request.post(server.url + "/api/chat", data={"messages": []})
    assert refused.status == 401

    # Chromium logs the wrong password's 401 as a failed load; nothing else went wrong.
    assert [e for e in chat.console_errors if "status of 401" not in e] == []
    assert chat.foreign_requests == []
    chat.context.close()
