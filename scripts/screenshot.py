"""Take docs/screenshot.png: the real page on the real server (demo model), mid-stream.

    .venv/bin/python scripts/screenshot.py [output.png]

Starts gunicorn as the Procfile does, drives Debian's Chromium with Playwright through
two finished exchanges and a third one, and shoots while that reply is still streaming.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.sync_api import sync_playwright  # noqa: E402

from tests.support.browser import launch_chromium  # noqa: E402
from tests.support.launch import start_gunicorn  # noqa: E402

STREAMING_SIGN = "export OPENAI_API_KEY"  # the code block is open, more is on its way


def take(output: Path) -> None:
    """Write a PNG of the page with one reply done and the next one mid-stream."""
    server = start_gunicorn(DEMO_TOKENS_PER_SECOND="30", RATE_LIMIT="")
    try:
        with sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            page = browser.new_page(viewport={"width": 1100, "height": 720}, color_scheme="light")
            page.goto(server.url + "/")
            page.wait_for_selector("body[data-ready=markdown]")
            for question in ("What can you do?", "How do I use a real model?"):
                page.click("#new-chat")
                page.fill("#prompt", question)
                page.press("#prompt", "Enter")
                page.wait_for_selector("#status[data-state=done]", timeout=60_000)
            page.fill("#prompt", "Show me how to set the key, with code")
            page.press("#prompt", "Enter")
            page.wait_for_function(
                """(sign) => {
                  const all = document.querySelectorAll('.message.assistant .content');
                  return all[all.length - 1].textContent.includes(sign);
                }""",
                arg=STREAMING_SIGN,
                timeout=60_000,
            )
            page.screenshot(path=str(output))
            state = page.get_attribute("#status", "data-state")
            browser.close()
        if state != "streaming":
            raise SystemExit(f"the reply finished before the shot ({state}); try again")
    finally:
        server.stop()
    print(f"wrote {output.relative_to(ROOT) if output.is_relative_to(ROOT) else output}")


if __name__ == "__main__":
    take(Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else ROOT / "docs" / "screenshot.png")
