"""OpenID Connect sign-in for real: Chromium goes through panva's oidc-provider's login and
consent pages (on 127.0.0.1) to a streamed reply; an account outside the allow-list is
refused."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser

from tests.support.browser import TIMEOUT_MS, open_chat_page
from tests.support.environment import TEST_API_KEY, server_env
from tests.support.fake_upstream import Script
from tests.support.launch import RunningServer, free_port, gunicorn_command, upstream_settings
from tests.support.oidc import (
    ALLOWED_ACCOUNT,
    ALLOWED_EMAIL,
    CLIENT_ID,
    CLIENT_SECRET,
    OUTSIDER_ACCOUNT,
    OpenIdProvider,
)
from tests.support.payloads import reply_payloads
from tests.support.signin import TEST_SECRET_KEY


@pytest.fixture(scope="module")
def oidc_server(fake_upstream) -> Iterator[tuple[RunningServer, OpenIdProvider]]:
    port = free_port()
    with OpenIdProvider(f"http://127.0.0.1:{port}/auth/callback") as idp:
        settings = upstream_settings(
            fake_upstream.base_url,
            PORT=str(port),
            AUTH="oidc",
            SECRET_KEY=TEST_SECRET_KEY,
            OIDC_ISSUER=idp.issuer,
            OIDC_CLIENT_ID=CLIENT_ID,
            OIDC_CLIENT_SECRET=CLIENT_SECRET,
            OIDC_ALLOWED_EMAILS=ALLOWED_EMAIL,
            PUBLIC_URL=f"http://127.0.0.1:{port}",
        )
        server = RunningServer(gunicorn_command(), server_env(**settings), port)
        try:
            yield server, idp
        finally:
            output = server.stop()
            for secret in (CLIENT_SECRET, TEST_SECRET_KEY, TEST_API_KEY):
                assert secret not in output


def sign_in_at_provider(browser: Browser, server: RunningServer, idp: OpenIdProvider, account):
    chat = open_chat_page(browser, server)
    # The provider's pages are on their own origin: let them through (its web font is not).
    chat.context.unroute("**/*")

    def route(r):
        url = r.request.url
        if url.startswith((server.url + "/", idp.issuer + "/")) or url == server.url:
            r.continue_()
        else:
            chat.foreign_requests.append(url)
            r.abort()

    chat.context.route("**/*", route)
    page = chat.page
    page.goto(server.url + "/")
    assert page.url.startswith(server.url + "/login")
    page.click("#sign-in-provider")
    page.wait_for_selector("input[name=login]")
    assert page.url.startswith(idp.issuer)
    page.fill("input[name=login]", account)
    page.fill("input[name=password]", "any-test-password")
    page.click("button[type=submit]")
    page.wait_for_selector("button:has-text('Continue')")  # the consent page
    page.click("button:has-text('Continue')")
    page.wait_for_url(f"{server.url}/**", timeout=TIMEOUT_MS)
    return chat


def test_an_allowed_account_signs_in_and_streams_a_reply(browser, oidc_server, fake_upstream):
    server, idp = oidc_server
    fake_upstream.script = Script(payloads=reply_payloads("chatcmpl-oidc", ["Hello", " there"]))
    chat = sign_in_at_provider(browser, server, idp, ALLOWED_ACCOUNT)
    chat.page.wait_for_selector("body[data-ready]")
    assert f"Signed in as {ALLOWED_EMAIL}" in chat.page.inner_text("#signed-in-as")
    assert chat.exchange("hi") == "done"
    assert "Hello there" in chat.reply_text()
    chat.page.click("#sign-out")
    chat.page.wait_for_url(f"{server.url}/login")
    chat.context.close()


def test_an_account_outside_the_allow_list_is_refused(browser, oidc_server, fake_upstream):
    server, idp = oidc_server
    chat = sign_in_at_provider(browser, server, idp, OUTSIDER_ACCOUNT)
    assert "This account may not use this app." in chat.page.inner_text("body")
    chat.page.goto(server.url + "/")
    assert chat.page.url.startswith(server.url + "/login")
    chat.context.close()
