"""Browser-test fixtures: Debian's Chromium driven by Playwright, against the real server.

Chromium is never downloaded: the tests use /usr/bin/chromium, and skip without it
unless CI=true, where a missing browser is a failure (CI must run these tests). Every
test in this folder is marked ``browser`` (by tests/conftest.py). The helpers
(ChatPage, Backend, ...) are in tests.support.browser.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, sync_playwright

from tests.support.browser import CHROMIUM, Backend, ChatPage, launch_chromium, open_chat_page
from tests.support.launch import RunningServer, start_gunicorn, start_gunicorn_against


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """One headless Chromium for the whole session."""
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing (apt-get install chromium)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"browser tests must run in CI: {message}")
        pytest.skip(message)
    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        yield chromium
        chromium.close()


# Servers here have no rate limit (server_env turns it off), so many exchanges are fine.


@pytest.fixture(scope="module")
def demo_server() -> Iterator[RunningServer]:
    """The real server on the built-in demo model, fast-paced."""
    server = start_gunicorn(DEMO_TOKENS_PER_SECOND="80")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def upstream_server(fake_upstream) -> Iterator[RunningServer]:
    """The real server talking to the tests' fake OpenAI-compatible upstream."""
    server = start_gunicorn_against(
        fake_upstream.base_url,
        HEARTBEAT_SECONDS="1",
    )
    yield server
    server.stop()


@pytest.fixture(params=["demo", "upstream"])
def backend(request) -> Backend:
    """Each test using this runs twice: on the demo model and on the fake upstream."""
    if request.param == "demo":
        return Backend("demo", request.getfixturevalue("demo_server"))
    return request.getfixturevalue("upstream_backend")


@pytest.fixture
def upstream_backend(fake_upstream, upstream_server) -> Backend:
    """The fake upstream alone, for modules whose tests script every reply: they override
    ``backend`` with this."""
    return Backend("upstream", upstream_server, fake_upstream)


@pytest.fixture
def chat(browser, backend) -> Iterator[ChatPage]:
    """The chat page on ``backend``'s server, loaded and ready."""
    page = open_chat_page(browser, backend.server).open()
    yield page
    page.context.close()
