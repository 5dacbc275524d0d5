"""Images on the page, in Chromium against the real server and the fake upstream: a PNG
attached with the file chooser and one pasted reach the upstream as data: URL parts in
the shape of each API; a pending one is removed from the keyboard; a reloaded
conversation shows its thumbnails from localStorage; an image that storage cannot hold
is said to be lost, and Regenerate sends the message without it."""

from __future__ import annotations

import base64
import json
import os
import zlib
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from tests.support.browser import ChatPage, open_chat_page
from tests.support.fake_upstream import FakeUpstream, Script
from tests.support.images import _png_chunk, data_url, png
from tests.support.launch import RunningServer, start_gunicorn_against
from tests.support.payloads import reply_payloads, responses_payloads

RED = png(40, 30, (220, 20, 20))
BLUE = png(20, 50, (20, 20, 220))
GREEN = png(8, 8, (20, 200, 20))

PASTE = """([b64, name]) => {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const data = new DataTransfer();
  data.items.add(new File([bytes], name, { type: "image/png" }));
  const prompt = document.getElementById("prompt");
  prompt.focus();
  const init = { clipboardData: data, bubbles: true, cancelable: true };
  prompt.dispatchEvent(new ClipboardEvent("paste", init));
}"""


@pytest.fixture(scope="module", params=["chat", "responses"])
def server(request, fake_upstream) -> Iterator[tuple[str, RunningServer]]:
    server = start_gunicorn_against(fake_upstream.base_url, CHAT_API=request.param)
    yield request.param, server
    server.stop()


@pytest.fixture
def chat(browser, server) -> Iterator[ChatPage]:
    page = open_chat_page(browser, server[1]).open()
    yield page
    page.context.close()


def script_reply(upstream: FakeUpstream, api: str) -> None:
    words = ["I ", "see ", "them."]
    if api == "chat":
        upstream.script = Script(payloads=reply_payloads("chatcmpl-img", words))
    else:
        upstream.script = Script(payloads=responses_payloads("resp_img", words))


def paste(chat: ChatPage, data: bytes, name: str) -> None:
    chat.page.evaluate(PASTE, [base64.b64encode(data).decode(), name])


def attach_by_chooser(chat: ChatPage, data: bytes, name: str) -> None:
    with chat.page.expect_file_chooser() as chooser:
        chat.page.click("#attach")
    chooser.value.set_files(files=[{"name": name, "mimeType": "image/png", "buffer": data}])


def sent_content(upstream: FakeUpstream) -> object:
    request = upstream.records[-1].request
    return (request.get("messages") or request["input"])[-1]["content"]


def test_attached_and_pasted_images_reach_the_upstream_and_survive_a_reload(
    chat: ChatPage, server, fake_upstream
):
    api, _ = server
    script_reply(fake_upstream, api)
    pending = chat.page.locator("#pending-images .pending-image")
    attach_by_chooser(chat, RED, "red.png")
    expect(pending).to_have_count(1)
    paste(chat, BLUE, "blue.png")
    expect(pending).to_have_count(2)
    # A third, removed from the keyboard: Backspace on it, Escape on the next one.
    paste(chat, GREEN, "green.png")
    expect(pending).to_have_count(3)
    pending.nth(2).focus()
    chat.page.keyboard.press("Backspace")
    expect(pending).to_have_count(2)
    paste(chat, GREEN, "green.png")
    expect(pending).to_have_count(3)
    pending.nth(2).focus()
    chat.page.keyboard.press("Escape")
    expect(pending).to_have_count(2)
    assert chat.state() == "ready"  # that Escape was the image's, not the page's

    assert chat.exchange("What colours?") == "done"
    expect(pending).to_have_count(0)
    red, blue = data_url(RED), data_url(BLUE)
    if api == "chat":
        assert sent_content(fake_upstream) == [
            {"type": "text", "text": "What colours?"},
            {"type": "image_url", "image_url": {"url": red}},
            {"type": "image_url", "image_url": {"url": blue}},
        ]
    else:
        assert sent_content(fake_upstream) == [
            {"type": "input_text", "text": "What colours?"},
            {"type": "input_image", "image_url": red, "detail": "auto"},
            {"type": "input_image", "image_url": blue, "detail": "auto"},
        ]
    thumbs = chat.page.locator("#conversation .message.user .message-images img")
    expect(thumbs).to_have_count(2)
    assert thumbs.nth(0).get_attribute("alt") == "red.png"

    chat.page.reload()
    chat.page.wait_for_selector("body[data-ready]")
    expect(thumbs).to_have_count(2)
    assert [t.evaluate("(img) => img.naturalWidth > 0") for t in thumbs.all()] == [True, True]
    assert chat.page.locator(".images-lost").count() == 0
    # The next turn sends the earlier images again, as the conversation's.
    script_reply(fake_upstream, api)
    assert chat.exchange("And now?") == "done"
    request = fake_upstream.records[-1].request
    history = request.get("messages") or request["input"]
    assert [part.get("image_url") for part in history[-3]["content"][1:]] in (
        [{"url": red}, {"url": blue}],
        [red, blue],
    )
    assert chat.console_errors == []


def noise_png(width: int, height: int) -> bytes:
    """A PNG that does not compress: megabytes, to fill the browser's storage."""
    rows = b"".join(b"\x00" + os.urandom(width * 3) for _ in range(height))
    header = png(width, height)[:33]  # signature and IHDR
    return header + _png_chunk(b"IDAT", zlib.compress(rows, 0)) + _png_chunk(b"IEND", b"")


def test_an_image_storage_cannot_hold_is_said_lost_and_regenerate_goes_without_it(
    chat: ChatPage, server, fake_upstream
):
    api, _ = server
    script_reply(fake_upstream, api)
    big = noise_png(1000, 1000)  # 3 MB: 4 MB as a data: URL, with 4 MB stored already
    chat.page.evaluate("() => localStorage.setItem('filler', 'x'.repeat(4_000_000))")
    attach_by_chooser(chat, big, "noise.png")
    expect(chat.page.locator("#pending-images .pending-image")).to_have_count(1)
    assert chat.exchange("Too big to keep?") == "done"
    user = chat.page.locator("#conversation .message.user").last
    expect(user.locator(".images-lost")).to_contain_text("gone after a reload")
    content = sent_content(fake_upstream)
    assert isinstance(content, list) and len(content) == 2  # this tab still sent it

    chat.page.reload()
    chat.page.wait_for_selector("body[data-ready]")
    expect(user.locator(".images-lost")).to_contain_text(
        "1 image could not be kept in this browser"
    )
    expect(user.locator(".images-lost")).to_contain_text("without it")
    # Its thumbnail was kept: the person still sees what it was.
    expect(user.locator(".message-images img")).to_have_count(1)
    script_reply(fake_upstream, api)
    chat.page.click("#conversation [data-action=regenerate]")
    assert chat.wait_for_state("done") == "done"
    assert sent_content(fake_upstream) == "Too big to keep?"


DROP = """([b64, name, type]) => {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const data = new DataTransfer();
  data.items.add(new File([bytes], name, { type }));
  const zone = document.getElementById("composer");
  const init = { dataTransfer: data, bubbles: true, cancelable: true };
  for (const kind of ["dragover", "drop"]) zone.dispatchEvent(new DragEvent(kind, init));
}"""


def test_dropped_images_up_to_the_limit_and_no_other_files(chat: ChatPage):
    pending = chat.page.locator("#pending-images .pending-image")

    def drop(data: bytes, name: str, kind: str = "image/png") -> None:
        chat.page.evaluate(DROP, [base64.b64encode(data).decode(), name, kind])

    drop(b"%PDF-1.7 not an image", "notes.png")  # called .png, but its bytes say no
    expect(chat.page.locator("#status")).to_contain_text("notes.png is not a PNG, JPEG")
    for n in range(5):
        drop(png(4 + n, 4), f"drop{n}.png")
    expect(pending).to_have_count(4)
    expect(chat.page.locator("#status")).to_contain_text("At most 4 images per message.")
    assert chat.page.get_attribute("body", "data-max-images") == "4"


def test_an_edited_message_is_sent_again_with_its_images(chat: ChatPage, server, fake_upstream):
    api, _ = server
    script_reply(fake_upstream, api)
    attach_by_chooser(chat, RED, "red.png")
    expect(chat.page.locator("#pending-images .pending-image")).to_have_count(1)
    assert chat.exchange("First words") == "done"
    chat.page.click("#conversation .message.user [data-action=edit]")
    form = chat.page.locator(".edit-form")
    expect(form.locator(".message-images img")).to_have_count(1)
    expect(form.locator(".edit-note")).to_have_text("The images are sent with the edited text.")
    form.locator("textarea").fill("Second words")
    script_reply(fake_upstream, api)
    form.locator("button[type=submit]").click()
    assert chat.wait_for_state("done") == "done"
    content = sent_content(fake_upstream)
    assert [part.get("text") for part in content] == ["Second words", None]
    assert data_url(RED) in json.dumps(content)
    expect(chat.page.locator("#conversation .message.user .message-images img")).to_have_count(1)
