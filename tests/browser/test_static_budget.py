"""The page's static files as a browser fetches them from the real gunicorn server:
what a cold load costs over the network, and that a warm reload fetches none of them.

Measured with Chromium's DevTools protocol (a CDP session from Playwright), not from
file sizes: encodedDataLength is what crossed the wire, after compression, headers
included. The context has no request routing: Playwright turns the HTTP cache off for
a routed context, and the cache is what the warm reload is about.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from playwright.sync_api import Browser, CDPSession, Page

from tests.support.browser import TIMEOUT_MS
from tests.support.launch import RunningServer, start_gunicorn

# docs/deploying.md, "Static files": the most a first visit may download of static files.
COLD_LOAD_BUDGET_BYTES = 150_000


@pytest.fixture(scope="module")
def demo_server() -> Iterator[RunningServer]:
    """The Procfile's gunicorn on the demo model (no reply is asked for here)."""
    server = start_gunicorn()
    yield server
    server.stop()


@dataclass
class StaticTraffic:
    """The static requests one page load made, keyed by CDP request id."""

    urls: dict[str, str] = field(default_factory=dict)
    from_network: set[str] = field(default_factory=set)
    from_cache: set[str] = field(default_factory=set)  # served without asking the server
    encoded_bytes: dict[str, int] = field(default_factory=dict)

    def network_bytes(self) -> dict[str, int]:
        """Bytes on the wire per static URL fetched over the network."""
        return {
            self.urls[rid]: self.encoded_bytes.get(rid, 0)
            for rid in self.from_network
            if rid in self.urls
        }


def record_static(cdp: CDPSession, origin: str) -> list[StaticTraffic]:
    """Start recording; append a fresh StaticTraffic to the returned list per page load."""
    loads: list[StaticTraffic] = [StaticTraffic()]
    prefix = origin + "/static/"

    def received(event) -> None:
        response = event["response"]
        if not response["url"].startswith(prefix):
            return
        loads[-1].urls[event["requestId"]] = response["url"]
        cached = response.get("fromDiskCache") or response.get("fromMemoryCache")
        # Chromium announces a cache hit (requestServedFromCache) before its response.
        if not cached and event["requestId"] not in loads[-1].from_cache:
            loads[-1].from_network.add(event["requestId"])

    def served_from_cache(event) -> None:
        loads[-1].from_network.discard(event["requestId"])
        loads[-1].from_cache.add(event["requestId"])

    def finished(event) -> None:
        loads[-1].encoded_bytes[event["requestId"]] = int(event["encodedDataLength"])

    cdp.on("Network.responseReceived", received)
    cdp.on("Network.requestServedFromCache", served_from_cache)
    cdp.on("Network.loadingFinished", finished)
    cdp.send("Network.enable")
    return loads


def settle(page: Page, traffic: StaticTraffic) -> None:
    """Wait until the page drew with its libraries and every static response finished."""
    page.wait_for_selector("body[data-ready=markdown]")
    page.wait_for_function("() => document.readyState === 'complete'")
    for _ in range(100):
        if set(traffic.urls) <= set(traffic.encoded_bytes):
            return
        page.wait_for_timeout(50)
    raise AssertionError(f"static responses never finished: {traffic.urls}")


def test_cold_load_within_budget_and_warm_reload_fetches_nothing(
    browser: Browser, demo_server: RunningServer
):
    context = browser.new_context()
    context.set_default_timeout(TIMEOUT_MS)
    try:
        page = context.new_page()
        cdp = context.new_cdp_session(page)
        loads = record_static(cdp, demo_server.url)

        page.goto(demo_server.url + "/")
        settle(page, loads[-1])
        cold = loads[-1].network_bytes()
        total = sum(cold.values())
        print(f"cold load: {total} static bytes in {len(cold)} requests: {cold}")
        # The page and every vendor library came over the network...
        assert any(url.endswith("/chat.js") for url in cold), cold
        assert any("/vendor/" in url for url in cold), cold
        # ...within the budget.
        assert total <= COLD_LOAD_BUDGET_BYTES, cold

        loads.append(StaticTraffic())
        page.reload()
        settle(page, loads[-1])
        warm = loads[-1]
        # The reload used every one of the same files, each from the cache: not even a
        # revalidation (a 304) went to the server.
        assert sorted(warm.urls.values()) == sorted(cold), (warm.urls, cold)
        assert len(warm.from_cache) == len(cold)
        assert warm.network_bytes() == {}
    finally:
        context.close()
