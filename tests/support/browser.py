"""Driving the chat page in Debian's Chromium with Playwright: launching the browser, a
tab on the page with what it logged and where it connected, and where replies come from.

Chromium is never downloaded: the tests use /usr/bin/chromium.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from playwright.sync_api import Browser, BrowserContext, Page, Route

from tests.support.fake_upstream import FakeUpstream, Script
from tests.support.launch import RunningServer
from tests.support.payloads import reply_payloads, usage_payload

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# The page's final states, as #status[data-state] shows them.
FINAL_STATES = ("done", "stopped", "error", "cut off", "incomplete")
# Generous: two cores, and another engineer's tests may run at the same time.
TIMEOUT_MS = 30_000


def launch_chromium(playwright) -> Browser:
    """Debian's Chromium, headless, with nothing that phones home."""
    return playwright.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS
    )


@dataclass
class Backend:
    """Where replies come from: the demo model, or the fake upstream we script."""

    name: str
    server: RunningServer
    upstream: FakeUpstream | None = None

    def script(self, words: list[str], interval: float = 0.03, **options) -> None:
        """Set the fake upstream's next reply (the demo model's reply is its own)."""
        if self.upstream is not None:
            payloads = [*reply_payloads("chatcmpl-ui", words), usage_payload("chatcmpl-ui", 5, 9)]
            self.upstream.script = Script(payloads=payloads, interval=interval, **options)


@dataclass
class ChatPage:
    """One browser tab on the chat page, with what it logged and where it connected."""

    context: BrowserContext
    page: Page
    origin: str
    console_errors: list[str] = field(default_factory=list)
    foreign_requests: list[str] = field(default_factory=list)

    def open(self) -> ChatPage:
        """Load the page and wait until chat.js has set itself up."""
        self.page.goto(self.origin + "/")
        self.page.wait_for_selector("body[data-ready]")
        return self

    def send(self, text: str) -> None:
        """Type into the message box and press Enter, as a person would."""
        self.page.fill("#prompt", text)
        self.page.press("#prompt", "Enter")

    def state(self) -> str:
        """The page's status (ready, sending, streaming, done, stopped, error, cut off)."""
        return self.page.get_attribute("#status", "data-state")

    def wait_for_state(self, *states: str, timeout: float = TIMEOUT_MS) -> str:
        """Wait until the status is one of ``states`` (default: any final state)."""
        wanted = list(states or FINAL_STATES)
        self.page.wait_for_function(
            "(wanted) => wanted.includes(document.getElementById('status').dataset.state)",
            arg=wanted,
            timeout=timeout,
        )
        return self.state()

    def exchange(self, text: str) -> str:
        """Send ``text`` and wait for the reply to end; returns the final state."""
        self.send(text)
        self.wait_for_state("sending", "streaming", *FINAL_STATES)
        return self.wait_for_state()

    def reply_text(self) -> str:
        """The text of the last assistant reply as the page shows it."""
        return self.page.evaluate(
            """() => {
              const all = document.querySelectorAll('#conversation .message.assistant .content');
              return all.length ? all[all.length - 1].textContent : '';
            }"""
        )

    def start_sampling(self) -> None:
        """Record (ms, reply length, state) about every 15 ms, inside the page."""
        self.page.evaluate(
            """() => {
              window.__samples = [];
              const t0 = performance.now();
              window.__sample = () => {
                const all = document.querySelectorAll('#conversation .message.assistant .content');
                const text = all.length ? all[all.length - 1].textContent : '';
                const state = document.getElementById('status').dataset.state;
                window.__samples.push([performance.now() - t0, text.length, state]);
              };
              window.__sampler = setInterval(window.__sample, 15);
            }"""
        )

    def stop_sampling(self) -> list[tuple[float, int, str]]:
        """The samples recorded since start_sampling(), ending with one taken now.

        The last one is taken here, not left to the timer: on a loaded machine the timer
        may not have fired since the state a test just waited for was reached.
        """
        script = (
            "() => { clearInterval(window.__sampler); window.__sample(); return window.__samples; }"
        )
        return [tuple(s) for s in self.page.evaluate(script)]


def assistant_contents(chat: ChatPage) -> list[str]:
    """Each reply's text as shown."""
    contents = chat.page.locator("#conversation .message.assistant .content").all_text_contents()
    return [text.strip() for text in contents]


def open_chat_page(browser: Browser, server: RunningServer, **context_options) -> ChatPage:
    """A fresh browser context (own localStorage) on ``server``'s page.

    Every request is routed through a handler that lets same-origin requests through and
    records (and blocks) any other, so a test can assert that nothing left our origin.
    """
    options = {"viewport": {"width": 1100, "height": 800}, **context_options}
    context = browser.new_context(**options)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    chat = ChatPage(context, page, server.url)

    def route(r: Route) -> None:
        url = r.request.url
        if url == server.url or url.startswith(server.url + "/"):
            r.continue_()
        else:
            chat.foreign_requests.append(url)
            r.abort()

    context.route("**/*", route)
    page.on("console", lambda m: chat.console_errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: chat.console_errors.append(f"uncaught: {e}"))
    return chat
