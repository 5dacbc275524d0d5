"""Rate limits (an IPv6 client counted by its /64), the trusted client address and host,
cross-site refusal and security headers."""

from __future__ import annotations

import httpx2
import pytest
from flask import g

from streamchat.settings import SettingsError
from streamchat.web.static_files import static_version
from tests.support.payloads import CHAT, reply_payloads, sse_body


def ok_upstream(request):
    body = sse_body(reply_payloads("chatcmpl-abuse", ["ok"]))
    return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=body)


def statuses(client, count: int, **kwargs) -> list[int]:
    return [client.post("/api/chat", json=CHAT, **kwargs).status_code for _ in range(count)]


def test_rate_limit_answers_429_in_the_json_shape_with_retry_after(make_app):
    client = make_app(ok_upstream, RATE_LIMIT="3/minute").test_client()
    assert statuses(client, 3) == [200, 200, 200]
    response = client.post("/api/chat", json=CHAT)
    assert response.status_code == 429
    error = response.get_json()["error"]
    assert (error["type"], error["code"]) == ("rate_limit_error", "rate_limited")
    assert 1 <= int(response.headers["Retry-After"]) <= 61  # the window, rounded up


def test_rate_limited_request_is_logged_with_its_error_code(make_app):
    app = make_app(ok_upstream, RATE_LIMIT="1/minute")
    client = app.test_client()
    client.post("/api/chat", json=CHAT)
    with client:  # keeps the request context, so its log record can be read
        response = client.post("/api/chat", json=CHAT)
        record = g.request_record
    assert response.status_code == 429
    assert (record.outcome, record.error_code) == ("rejected", "rate_limited")


def test_rate_limit_covers_both_endpoints_and_spares_the_page(make_app):
    client = make_app(ok_upstream, RATE_LIMIT="2/minute").test_client()
    client.post("/api/chat", json=CHAT)
    client.post("/api/responses", json=CHAT)
    assert client.post("/api/responses", json=CHAT).status_code == 429
    assert [client.get("/").status_code for _ in range(5)] == [200] * 5


def test_each_client_address_has_its_own_budget(make_app):
    client = make_app(ok_upstream, RATE_LIMIT="2/minute").test_client()
    one = {"environ_base": {"REMOTE_ADDR": "127.0.0.10"}}
    two = {"environ_base": {"REMOTE_ADDR": "127.0.0.11"}}
    assert statuses(client, 3, **one) == [200, 200, 429]
    assert statuses(client, 2, **two) == [200, 200]


def test_forwarded_for_is_ignored_unless_proxies_are_trusted(make_app):
    client = make_app(ok_upstream, RATE_LIMIT="2/minute").test_client()
    spoofed = [
        client.post("/api/chat", json=CHAT, headers={"X-Forwarded-For": f"10.9.9.{n}"}).status_code
        for n in range(3)
    ]
    assert spoofed == [200, 200, 429]


def test_with_one_trusted_proxy_the_forwarded_address_is_the_client(make_app):
    client = make_app(ok_upstream, RATE_LIMIT="1/minute", TRUSTED_PROXY_COUNT="1").test_client()
    # A client may prepend anything; only the hop our proxy appended counts.
    first = {"X-Forwarded-For": "1.1.1.1, 127.0.0.20"}
    second = {"X-Forwarded-For": "1.1.1.1, 127.0.0.21"}
    assert client.post("/api/chat", json=CHAT, headers=first).status_code == 200
    assert client.post("/api/chat", json=CHAT, headers=second).status_code == 200
    assert client.post("/api/chat", json=CHAT, headers=first).status_code == 429


def test_ipv6_clients_share_their_slash_64s_rate_limit(make_app):
    app = make_app(OPENAI_API_KEY="", DEMO_TOKENS_PER_SECOND="5000", RATE_LIMIT="2/minute")
    client = app.test_client()
    statuses = [
        client.post(
            "/api/chat", json=CHAT, environ_base={"REMOTE_ADDR": f"2001:db8:1:2::{i}"}
        ).status_code
        for i in range(1, 4)
    ]
    other = client.post("/api/chat", json=CHAT, environ_base={"REMOTE_ADDR": "2001:db8:1:3::1"})
    assert statuses == [200, 200, 429]
    assert other.status_code == 200


def test_ipv4_clients_seen_as_mapped_ipv6_are_counted_each_on_their_own(make_app):
    # Listening on both families (HOST=::), IPv4 peers arrive as ::ffff:a.b.c.d; their
    # /64 is ::/64, which would put every IPv4 client in one bucket.
    app = make_app(OPENAI_API_KEY="", DEMO_TOKENS_PER_SECOND="5000", RATE_LIMIT="2/minute")
    client = app.test_client()

    def status(address):
        response = client.post("/api/chat", json=CHAT, environ_base={"REMOTE_ADDR": address})
        response.get_data()
        return response.status_code

    assert [status("::ffff:192.0.2.1") for _ in range(3)] == [200, 200, 429]
    assert status("::ffff:192.0.2.2") == 200
    assert status("192.0.2.1") == 429  # the same client, however its address is written


@pytest.mark.parametrize("value", ["lots", "20 per", "5/fortnight"])
def test_malformed_rate_limit_stops_start_up_naming_it(make_app, value):
    with pytest.raises(SettingsError, match="RATE_LIMIT"):
        make_app(ok_upstream, RATE_LIMIT=value)


def test_unusable_storage_stops_start_up_naming_it(make_app):
    with pytest.raises(SettingsError, match="RATELIMIT_STORAGE_URI"):
        make_app(ok_upstream, RATE_LIMIT="1/minute", RATELIMIT_STORAGE_URI="bogus://x")


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Origin": "https://evil.example"}, 403),
        ({"Origin": "null"}, 403),
        ({"Origin": "http://localhost.evil.example"}, 403),
        ({"Sec-Fetch-Site": "cross-site"}, 403),
        ({"Sec-Fetch-Site": "same-site"}, 403),
        ({"Origin": "http://localhost", "Sec-Fetch-Site": "same-origin"}, 200),
        ({"Origin": "https://localhost"}, 200),  # TLS ended at a proxy: same host
        ({"Sec-Fetch-Site": "none"}, 200),
        ({}, 200),  # curl, a server-side SDK
        ({"Origin": "https://app.example"}, 200),  # ALLOWED_ORIGINS
    ],
)
def test_cross_site_browser_posts_are_refused(make_app, headers, expected):
    app = make_app(ok_upstream, ALLOWED_ORIGINS="https://app.example")
    response = app.test_client().post("/api/chat", json=CHAT, headers=headers)
    assert response.status_code == expected
    if expected == 403:
        assert response.get_json()["error"]["code"] == "cross_site_request"
        assert app.transport.requests == []


def test_malformed_allowed_origins_stops_start_up(make_app):
    with pytest.raises(SettingsError, match="ALLOWED_ORIGINS"):
        make_app(ok_upstream, ALLOWED_ORIGINS="app.example/path")


def test_x_forwarded_host_is_ignored_unless_trusted(make_app):
    forged = {"Origin": "http://evil.example", "X-Forwarded-Host": "evil.example"}
    app = make_app(OPENAI_API_KEY="", TRUSTED_PROXY_COUNT="1")
    assert app.test_client().post("/api/chat", json=CHAT, headers=forged).status_code == 403
    trusting = make_app(OPENAI_API_KEY="", TRUSTED_PROXY_COUNT="1", TRUSTED_PROXY_HOST="true")
    response = trusting.test_client().post("/api/chat", json=CHAT, headers=forged)
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("get", "/", None),
        ("get", f"/static/{static_version()}/chat.css", None),  # WhiteNoise answers it
        ("post", "/api/chat", CHAT),
        ("post", "/api/chat", {"messages": []}),
        ("get", "/nowhere", None),
    ],
)
def test_security_headers_on_every_response(make_app, method, path, body):
    client = make_app(ok_upstream).test_client()
    response = getattr(client, method)(path, json=body)
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"


def test_output_cap_is_sent_upstream_in_the_configured_field(make_app):
    app = make_app(ok_upstream, MAX_OUTPUT_TOKENS="321", MAX_TOKENS_FIELD="max_tokens")
    app.test_client().post("/api/chat", json=CHAT)
    sent = app.transport.requests[0].read()
    assert b'"max_tokens":321' in sent
    assert b"max_completion_tokens" not in sent


def test_demo_model_stops_at_the_cap_and_says_so(make_app):
    client = make_app(
        OPENAI_API_KEY="", DEMO_TOKENS_PER_SECOND="5000", MAX_OUTPUT_TOKENS="5"
    ).test_client()
    lines = client.post("/api/chat", json=CHAT).data.split(b"\n")
    assert sum(b'"content":"' in line and b'"content":""' not in line for line in lines) == 5
    assert b'"finish_reason":"length"' in b"".join(lines)
