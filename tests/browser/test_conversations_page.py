"""Signed in, conversations live on the server (issue 22): two browser contexts are two
devices of the same person. A conversation started on one appears on the other with its
reply; a reply still streaming on one is seen streaming on the other (through its run);
and conversations this browser kept before sign-in are offered for import, once.

The other device looks again when the page regains focus: the tests send it `focus`
events rather than wait for the page's timer.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator

import pytest

from tests.support.browser import ChatPage, open_chat_page
from tests.support.fake_upstream import Script
from tests.support.launch import RunningServer, start_gunicorn_against
from tests.support.payloads import reply_payloads, usage_payload
from tests.support.signin import TEST_PASSWORD, TEST_USER, password_settings

STORE_KEY = "streamchat:conversations:v1"
STORED = f"() => JSON.parse(localStorage.getItem('{STORE_KEY}') || 'null')"
SIDEBAR = "() => [...document.querySelectorAll('#conversation-list .open-conversation')]"
LISTED = f"(title) => ({SIDEBAR})().some((b) => b.textContent === title)"


@pytest.fixture(scope="module")
def server(fake_upstream) -> Iterator[RunningServer]:
    """Two workers (a device's resume may reach either), runs kept 30 s after their
    readers leave, AUTH=password with alice; a migrated SQLite of its own."""
    running = start_gunicorn_against(
        fake_upstream.base_url,
        WEB_CONCURRENCY="2",
        HEARTBEAT_SECONDS="1",
        RUN_GRACE_SECONDS="30",
        **password_settings(),
    )
    yield running
    running.stop()


def signed_in(chat: ChatPage, before=None) -> ChatPage:
    """Sign in as alice on ``chat``'s page (``before(page)`` runs on the sign-in page)."""
    chat.page.goto(chat.origin + "/login")
    if before:
        before(chat.page)
    chat.page.fill("#username", TEST_USER)
    chat.page.fill("#password", TEST_PASSWORD)
    chat.page.click("#sign-in")
    chat.page.wait_for_selector("body[data-ready][data-conversations=server]")
    return chat


@pytest.fixture
def devices(browser, server) -> Iterator[tuple[ChatPage, ChatPage]]:
    laptop = signed_in(open_chat_page(browser, server))
    phone = signed_in(open_chat_page(browser, server))
    yield laptop, phone
    for device in (laptop, phone):
        assert device.console_errors == []
        assert device.foreign_requests == []
        device.context.close()


def script(fake_upstream, words: list[str], interval: float) -> str:
    payloads = [*reply_payloads("chatcmpl-conv", words), usage_payload("chatcmpl-conv", 5, 9)]
    fake_upstream.script = Script(payloads=payloads, interval=interval)
    return "".join(words).strip()


def until_listed(device: ChatPage, title: str, timeout: float = 30) -> None:
    """Focus the page (it looks at the server then) until ``title`` is in its sidebar."""
    deadline = time.monotonic() + timeout
    while not device.page.evaluate(LISTED, title):
        assert time.monotonic() < deadline, f"{title!r} never listed"
        device.page.evaluate("window.dispatchEvent(new Event('focus'))")
        device.page.wait_for_timeout(500)


def open_listed(device: ChatPage, title: str) -> None:
    device.page.locator("#conversation-list .open-conversation", has_text=title).click()


def test_a_conversation_started_on_one_device_appears_on_the_other(devices, fake_upstream):
    laptop, phone = devices
    reply = script(fake_upstream, [f"w{i} " for i in range(12)], 0.02)
    question = f"Plan a day in Rome {uuid.uuid4().hex[:6]}"
    sent = []
    laptop.page.on(
        "request",
        lambda r: sent.append(json.loads(r.post_data)) if r.url.endswith("/api/chat") else None,
    )
    assert laptop.exchange(question) == "done"
    assert laptop.reply_text().strip() == reply
    # The turn named the conversation the server made for it, and sent role and content.
    (body,) = sent
    assert body["messages"] == [{"role": "user", "content": question}]
    assert len(body["conversation_id"]) == 22

    until_listed(phone, question)
    open_listed(phone, question)
    phone.page.wait_for_function(
        "(text) => [...document.querySelectorAll('#conversation .message.assistant .content')]"
        ".some((c) => c.textContent.trim() === text)",
        arg=reply,
    )
    users = phone.page.locator("#conversation .message.user .content").all_text_contents()
    assert users == [question]
    # Nothing of it in either browser's localStorage: the server keeps it.
    for device in devices:
        stored = device.page.evaluate(STORED)
        assert stored is None or stored["conversations"] == []


def test_a_reply_streaming_on_one_device_is_seen_streaming_on_the_other(devices, fake_upstream):
    laptop, phone = devices
    reply = script(fake_upstream, [f"s{i} " for i in range(70)], 0.08)  # ~5.6 s
    question = f"A long answer {uuid.uuid4().hex[:6]}"
    laptop.send(question)
    laptop.wait_for_state("streaming")
    until_listed(phone, question)
    resumes = []
    phone.page.on("request", lambda r: resumes.append(r.url) if "/api/runs/" in r.url else None)
    open_listed(phone, question)
    shown = "() => { const all = document.querySelectorAll('#conversation .message.assistant"
    shown += " .content'); return all.length ? all[all.length - 1].textContent : ''; }"
    phone.page.wait_for_function(f"() => ({shown})().length > 0")
    first = len(phone.reply_text())
    phone.page.wait_for_function(f"(n) => ({shown})().length > n", arg=first)
    # Still streaming on the laptop while the phone's copy grew: read live, not stored.
    assert laptop.state() == "streaming"
    assert phone.state() == "streaming"
    assert phone.wait_for_state() == "done"
    assert laptop.wait_for_state() == "done"
    assert phone.reply_text().strip() == reply == laptop.reply_text().strip()
    # The phone read the laptop's run from its first line.
    assert resumes and resumes[0].endswith("?after=0")


def seed(conversations: list[dict]):
    value = json.dumps({"conversations": conversations, "activeId": None})
    return lambda page: page.evaluate("([k, v]) => localStorage.setItem(k, v)", [STORE_KEY, value])


def kept(title: str, reply: str) -> dict:
    messages = [{"role": "user", "content": title}, {"role": "assistant", "content": reply}]
    return {"id": uuid.uuid4().hex, "title": title, "model": "", "updated": 1, "messages": messages}


def test_conversations_kept_in_this_browser_are_imported_once_asked(browser, server):
    tag = uuid.uuid4().hex[:6]
    old = [kept(f"Old trip {tag}", "Pack light."), kept(f"Old recipe {tag}", "Salt the water.")]
    device = signed_in(open_chat_page(browser, server), before=seed(old))
    try:
        offer = device.page.locator("#import-offer")
        offer.wait_for(state="visible")
        assert device.page.text_content("#import-text") == (
            "Import 2 conversations kept in this browser"
        )
        device.page.click("#import-accept")
        offer.wait_for(state="hidden")
        for conversation in old:
            assert device.page.evaluate(LISTED, conversation["title"])
        assert device.page.evaluate(STORED)["conversations"] == []
        # Listed from the server: a reload (nothing left locally) shows them, with their
        # messages, and offers nothing.
        device.page.reload()
        device.page.wait_for_selector("body[data-ready]")
        assert device.page.locator("#import-offer").is_hidden()
        open_listed(device, old[0]["title"])
        device.page.wait_for_function(
            "() => document.querySelector('#conversation .message.assistant .content')"
            "?.textContent.trim() === 'Pack light.'"
        )
        assert device.console_errors == []
    finally:
        device.context.close()


def test_not_now_is_remembered(browser, server):
    device = signed_in(
        open_chat_page(browser, server), before=seed([kept("Keep me here", "Fine.")])
    )
    try:
        device.page.locator("#import-offer").wait_for(state="visible")
        device.page.click("#import-dismiss")
        device.page.reload()
        device.page.wait_for_selector("body[data-ready]")
        assert device.page.locator("#import-offer").is_hidden()
        assert device.page.evaluate(STORED)["conversations"][0]["title"] == "Keep me here"
    finally:
        device.context.close()


def test_a_run_found_gone_means_its_reply_ended_the_stored_one_is_shown(devices, fake_upstream):
    """The phone's resumes answer 404 run_not_found (as when the run's worker is gone):
    the phone shows the turn unanswered without asking again and again, and the stored
    reply once the conversation changes on the server."""
    laptop, phone = devices
    reply = script(fake_upstream, [f"g{i} " for i in range(100)], 0.08)  # ~8 s
    gone = json.dumps({"error": {"code": "run_not_found", "message": "No such run."}})
    resumes = []

    def run_not_found(route):
        resumes.append(route.request.url)
        route.fulfill(status=404, content_type="application/json", body=gone)

    phone.page.route("**/api/runs/*", run_not_found)
    question = f"Gone run {uuid.uuid4().hex[:6]}"
    laptop.send(question)
    laptop.wait_for_state("streaming")
    until_listed(phone, question)
    open_listed(phone, question)
    phone.page.wait_for_function("() => document.querySelectorAll('#conversation li').length")
    assert laptop.wait_for_state() == "done"
    phone.page.wait_for_timeout(2500)  # past the focus gap
    phone.page.evaluate("window.dispatchEvent(new Event('focus'))")
    phone.page.wait_for_function(
        "(text) => document.querySelector('#conversation .message.assistant .content')"
        "?.textContent.trim() === text",
        arg=reply,
    )
    assert 1 <= len(resumes) <= 2, resumes
    # Chromium logs each 404 it was answered: those are this test's own.
    phone.console_errors[:] = [e for e in phone.console_errors if "404 (Not Found)" not in e]


DATABASE_DOWN = json.dumps(
    {"error": {"code": "database_unavailable", "message": "The database is unreachable."}}
)


def database_down(route):
    route.fulfill(status=503, content_type="application/json", body=DATABASE_DOWN)


def turn_not_saved(route):
    """The real reply, with the header the server adds when it could not store the turn."""
    response = route.fetch()
    route.fulfill(response=response, headers={**response.headers, "x-conversation-saved": "false"})


def test_a_turn_not_saved_is_kept_in_this_browser_until_one_is(browser, server, fake_upstream):
    """The database unreachable (its answers played at the network: with sign-in sessions
    in the same database, a real outage refuses the page itself): the reply streams, the
    page says so and keeps the conversation here; a later turn stored takes it back."""
    device = signed_in(open_chat_page(browser, server))
    question = f"Are you there {uuid.uuid4().hex[:6]}"
    try:
        device.page.route("**/api/conversations**", database_down)
        reply = script(fake_upstream, ["Still ", "here"], 0.02)
        assert device.exchange(question) == "done"
        assert device.reply_text().strip() == reply
        assert device.page.locator("#not-saved").is_visible()
        stored = device.page.evaluate(STORED)["conversations"]
        assert [m["content"] for m in stored[0]["messages"]] == [question, reply]

        device.page.unroute("**/api/conversations**")
        script(fake_upstream, ["Back."], 0.02)
        assert device.exchange("And now?") == "done"
        assert device.page.locator("#not-saved").is_hidden()
        assert device.page.evaluate(STORED)["conversations"] == []
        until_listed(device, question)

        device.page.route("**/api/chat", turn_not_saved)
        script(fake_upstream, ["Again."], 0.02)
        assert device.exchange("Once more?") == "done"
        assert device.page.locator("#not-saved").is_visible()
        kept_here = device.page.evaluate(STORED)["conversations"]
        assert [len(c["messages"]) for c in kept_here] == [6]
        errors = [e for e in device.console_errors if "503" not in e]
        assert errors == []
    finally:
        device.context.close()


def test_a_reload_mid_reply_reopens_the_conversation_and_reads_on(devices, fake_upstream):
    laptop, _ = devices
    reply = script(fake_upstream, [f"r{i} " for i in range(50)], 0.08)  # ~4 s
    question = f"Reload me {uuid.uuid4().hex[:6]}"
    laptop.send(question)
    laptop.page.wait_for_function(
        "() => document.querySelector('#conversation .message.assistant .content')"
        "?.textContent.length > 0"
    )
    laptop.page.reload()
    laptop.page.wait_for_selector("body[data-ready]")
    laptop.page.wait_for_function(
        "(q) => document.querySelector('#conversation .message.user .content')?.textContent === q",
        arg=question,
    )
    assert laptop.wait_for_state("streaming", "done") == "streaming"
    assert laptop.wait_for_state() == "done"
    assert laptop.reply_text().strip() == reply
