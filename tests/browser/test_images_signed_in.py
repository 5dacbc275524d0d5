"""Images kept on the server for a signed-in person: a PNG attached on one device is
shown as a thumbnail on another device that opens the conversation (so it came from the
server, not from the first browser's storage), and the next turn sends it again."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from tests.browser.test_conversations_page import open_listed, signed_in, until_listed
from tests.browser.test_images import RED, attach_by_chooser
from tests.support.browser import open_chat_page
from tests.support.fake_upstream import Script
from tests.support.images import data_url
from tests.support.launch import RunningServer, start_gunicorn_against
from tests.support.payloads import reply_payloads
from tests.support.signin import password_settings


@pytest.fixture(scope="module")
def server(fake_upstream) -> Iterator[RunningServer]:
    running = start_gunicorn_against(fake_upstream.base_url, **password_settings())
    yield running
    running.stop()


def test_an_image_sent_on_one_device_is_shown_on_another(browser, server, fake_upstream):
    fake_upstream.script = Script(payloads=reply_payloads("chatcmpl-img", ["A ", "red ", "one."]))
    laptop = signed_in(open_chat_page(browser, server))
    phone = signed_in(open_chat_page(browser, server))
    try:
        question = f"What colour is this? {uuid.uuid4().hex[:6]}"
        attach_by_chooser(laptop, RED, "red.png")
        assert laptop.exchange(question) == "done"

        until_listed(phone, question)
        open_listed(phone, question)
        thumbs = phone.page.locator("#conversation .message.user .message-images img")
        expect(thumbs).to_have_count(1)
        assert thumbs.first.get_attribute("src") == data_url(RED)
        # The phone's next turn sends the image again, as the laptop's did.
        assert phone.exchange("And now?") == "done"
        first_turn = fake_upstream.records[-1].request["messages"][1]["content"]
        assert first_turn == [
            {"type": "text", "text": question},
            {"type": "image_url", "image_url": {"url": data_url(RED)}},
        ]
        for device in (laptop, phone):
            assert device.console_errors == []
    finally:
        laptop.context.close()
        phone.context.close()
