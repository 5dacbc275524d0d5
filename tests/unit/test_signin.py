"""Sign-in with AUTH=password through Flask's test client: the gate, the form, the
session cookie, sign-out, the same-origin check and where identities show."""

from __future__ import annotations

import json
import logging
import re
import time

import pytest

from streamchat.identity.accounts import hash_password
from streamchat.settings import SettingsError
from tests.support.payloads import CHAT
from tests.support.signin import (
    OTHER_PASSWORD,
    OTHER_USER,
    TEST_PASSWORD,
    TEST_SECRET_KEY,
    TEST_USER,
    api_token,
    chat_status,
    ok_upstream,
    password_settings,
    sign_in,
    user_entries,
)


@pytest.fixture
def app(password_app):
    return password_app()


@pytest.fixture
def client(app):
    return app.test_client()


# --- start-up ---------------------------------------------------------------------------


@pytest.mark.parametrize("key", [None, "", "too-short-secret-key"])
def test_auth_needs_a_long_secret_key(make_app, key):
    settings = password_settings()
    settings.pop("SECRET_KEY")
    if key is not None:
        settings["SECRET_KEY"] = key
    with pytest.raises(SettingsError, match="SECRET_KEY") as caught:
        make_app(**settings)
    assert "\n" not in str(caught.value)
    if key:
        assert key not in str(caught.value)


def test_oidc_without_an_allow_list_is_refused_unless_any_account_is_chosen(make_app):
    oidc = {
        "AUTH": "oidc",
        "SECRET_KEY": TEST_SECRET_KEY,
        "OIDC_ISSUER": "http://127.0.0.1:9",
        "OIDC_CLIENT_ID": "test-client",
        "OIDC_CLIENT_SECRET": "test-client-secret-not-real",
        "PUBLIC_URL": "https://chat.example.com",
    }
    with pytest.raises(SettingsError, match="OIDC_ALLOWED_EMAILS"):
        make_app(**oidc)
    make_app(**oidc, OIDC_ALLOW_ANY_ACCOUNT="true")
    make_app(**oidc, OIDC_ALLOWED_DOMAINS="example.com")


def test_a_malformed_user_entry_names_the_user_not_the_hash(make_app):
    with pytest.raises(SettingsError, match="AUTH_USERS: alice") as caught:
        make_app(**password_settings(AUTH_USERS="alice:not-a-hash-at-all"))
    assert "not-a-hash" not in str(caught.value)


def test_auth_none_leaves_the_page_and_the_api_open(make_app):
    client = make_app(ok_upstream).test_client()
    assert client.get("/").status_code == 200
    assert chat_status(client) == 200


# --- the gate ---------------------------------------------------------------------------


def test_anonymous_page_visit_goes_to_login(client):
    response = client.get("/")
    assert response.status_code == 303
    assert response.headers["Location"] == "/login?next=/"


@pytest.mark.parametrize("path", ["/api/chat", "/api/responses"])
def test_anonymous_api_call_is_401_before_any_upstream_call(app, client, path):
    response = client.post(path, json=CHAT)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert response.get_json()["error"]["code"] == "unauthenticated"
    assert app.transport.requests == []


def test_open_routes_stay_open(client):
    assert client.get("/healthz").status_code == 200
    assert client.get("/login").status_code == 200
    stylesheet = re.search(r'href="(/static/[^"]+/login\.css)"', client.get("/login").text)
    assert client.get(stylesheet.group(1)).status_code == 200


# --- password sign-in -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("user", "password"),
    [(TEST_USER, "wrong-password-123"), ("mallory", TEST_PASSWORD), (TEST_USER, "")],
)
def test_a_wrong_password_signs_nobody_in(app, client, user, password):
    response = sign_in(client, user, password)
    assert response.status_code == 401
    page = response.get_data(as_text=True)
    assert "That user name and password do not match." in page
    assert 'name="password"' in page  # the form again
    assert client.get("/").status_code == 303
    assert chat_status(client) == 401
    assert app.transport.requests == []


def test_the_right_password_leads_to_a_streamed_reply(app, client):
    response = sign_in(client)
    assert response.status_code == 303 and response.headers["Location"] == "/"
    page = client.get("/")
    assert page.status_code == 200
    assert "Signed in as alice" in page.get_data(as_text=True)
    assert 'action="/logout"' in page.get_data(as_text=True)
    reply = client.post("/api/chat", json=CHAT)
    assert reply.status_code == 200 and b'"finish_reason":"stop"' in reply.data
    assert len(app.transport.requests) == 1


def test_an_unknown_name_costs_the_same_password_check(app, client, monkeypatch):
    import streamchat.identity.accounts as accounts

    checked = []
    real = accounts.check_password_hash
    monkeypatch.setattr(
        accounts, "check_password_hash", lambda h, p: checked.append(h) or real(h, p)
    )
    timings = {}
    for name in (TEST_USER, "nobody-by-this-name"):
        started = time.perf_counter()
        assert sign_in(client, name, "wrong-password-123").status_code == 401
        timings[name] = time.perf_counter() - started
    # One scrypt check each, with the same cost parameters; so about the same time.
    assert len(checked) == 2
    assert checked[0].split("$")[0] == checked[1].split("$")[0]
    ratio = timings[TEST_USER] / timings["nobody-by-this-name"]
    assert 0.5 < ratio < 2.0, timings


@pytest.mark.parametrize(
    ("target", "location"),
    [
        ("/?model=x", "/?model=x"),
        ("https://evil.example/", "/"),
        ("//evil.example/", "/"),
        ("/\\evil.example/", "/"),
        ("javascript:alert(1)", "/"),
        ("/%0d%0aSet-Cookie:x", "/%0d%0aSet-Cookie:x"),
    ],
)
def test_next_may_only_be_a_local_path(client, target, location):
    response = client.post(
        "/login", data={"username": TEST_USER, "password": TEST_PASSWORD, "next": target}
    )
    assert response.status_code == 303
    assert response.headers["Location"] == location


def test_session_cookie_is_httponly_lax_and_secure_only_over_https(password_app):
    app = password_app(TRUSTED_PROXY_COUNT="1")
    plain = sign_in(app.test_client()).headers["Set-Cookie"]
    assert "HttpOnly" in plain and "SameSite=Lax" in plain and "Secure" not in plain
    assert "Expires=" in plain  # SESSION_DAYS
    https = sign_in(app.test_client(), headers={"X-Forwarded-Proto": "https"})
    assert "Secure" in https.headers["Set-Cookie"]


def test_the_session_is_renewed_at_sign_in(client):
    with client.session_transaction() as session:
        session["planted"] = "by-someone-else"
    sign_in(client)
    with client.session_transaction() as session:
        assert "planted" not in session
        assert session["_user_id"].startswith("pw:alice:")


def test_sign_out_ends_the_session(client):
    sign_in(client)
    response = client.post("/logout")
    assert response.status_code == 303 and response.headers["Location"] == "/login"
    assert client.get("/").status_code == 303
    assert chat_status(client) == 401


def test_a_new_password_ends_old_sessions(password_app):
    client = password_app().test_client()
    sign_in(client)
    cookie = client.get_cookie("session").value
    rotated = f"{TEST_USER}:{hash_password('a-new-password-for-alice')}"
    other = password_app(AUTH_USERS=rotated).test_client()
    other.set_cookie("session", cookie)
    assert other.get("/").status_code == 303


CROSS_SITE = [{"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}]


@pytest.mark.parametrize("headers", CROSS_SITE)
def test_cross_site_sign_in_and_sign_out_posts_get_403(client, headers):
    assert sign_in(client, headers=headers).status_code == 403
    assert client.get("/").status_code == 303  # nobody signed in
    sign_in(client)
    assert client.post("/logout", headers=headers).status_code == 403
    assert client.get("/").status_code == 200  # still signed in


def test_our_own_form_posts_pass_with_origin_null(client):
    # Under Referrer-Policy: no-referrer, browsers send "Origin: null" on form posts.
    ours = {"Origin": "null", "Sec-Fetch-Site": "same-origin"}
    assert sign_in(client, headers=ours).status_code == 303
    assert client.post("/logout", headers=ours).status_code == 303
    # A sandboxed frame elsewhere also says null, but not same-origin: still refused.
    for theirs in ({"Origin": "null"}, {"Origin": "null", "Sec-Fetch-Site": "cross-site"}):
        assert sign_in(client, headers=theirs).status_code == 403


def test_the_other_user_signs_in_too(client):
    assert sign_in(client, OTHER_USER, OTHER_PASSWORD).status_code == 303
    assert "Signed in as bob" in client.get("/").get_data(as_text=True)


# --- identity wherever it matters -------------------------------------------------------


def test_each_user_has_their_own_rate_limit(password_app):
    client = password_app(RATE_LIMIT="1/minute").test_client()
    token = api_token()[0]
    sign_in(client)
    assert chat_status(client) == 200
    assert chat_status(client) == 429
    # Same address, same app, another identity: its own budget.
    bearer = {"Authorization": f"Bearer {token}"}
    second = client.application.test_client()
    assert chat_status(second, headers=bearer) == 200


def test_the_request_log_names_the_user_and_never_a_secret(app, client, caplog):
    caplog.set_level("INFO", logger="streamchat")
    logger = logging.getLogger("streamchat")
    logger.propagate = True  # so caplog sees the JSON handler's records too
    try:
        sign_in(client, TEST_USER, "wrong-password-123")
        sign_in(client)
        chat_status(client)
        token = api_token()[0]
        chat_status(client.application.test_client(), headers={"Authorization": f"Bearer {token}"})
    finally:
        logger.propagate = False
    # One line per request (caplog may see a record twice: at its logger and at the root).
    unique = {r.request_id: r for r in caplog.records if r.name == "streamchat.access"}
    records = list(unique.values())
    assert [r.user for r in records if r.route == "/api/chat"] == ["alice", "token:ci"]
    assert [r.user for r in records if r.route == "/login"] == [None, "alice"]
    text = caplog.text + "".join(json.dumps(vars(r), default=str) for r in caplog.records)
    for secret in (TEST_PASSWORD, "wrong-password-123", token, TEST_SECRET_KEY):
        assert secret not in text
    assert user_entries().split(",")[0].split(":", 1)[1] not in text
