"""The session cookie (streamchat/identity/cookies.py): still Flask's signed cookie after
the per-request work was cut, so a tampered, expired or foreign cookie signs nobody in,
and what goes in comes back out."""

from __future__ import annotations

import time

import pytest
from flask.sessions import SecureCookieSessionInterface
from flask_login.utils import encode_cookie

from tests.support.signin import (
    TEST_SECRET_KEY,
    api_token,
    chat_status,
    sign_in,
)

OTHER_KEY = "another-secret-key-not-real-0123456789abcdef"
DAY = 24 * 3600


@pytest.fixture
def app(password_app):
    return password_app(SESSION_DAYS="1")


def signed_in_payload(app) -> dict:
    client = app.test_client()
    sign_in(client)
    with client.session_transaction() as session:
        return dict(session)


def page_status(app, cookie: str) -> int:
    client = app.test_client()
    client.set_cookie("session", cookie)
    return client.get("/").status_code


def test_a_signed_in_cookie_opens_the_page(app):
    cookie = app.session_interface.get_signing_serializer(app).dumps(signed_in_payload(app))
    assert page_status(app, cookie) == 200


def test_a_tampered_cookie_is_refused(app):
    cookie = app.session_interface.get_signing_serializer(app).dumps(signed_in_payload(app))
    payload, rest = cookie.split(".", 1)
    flipped = payload[:-2] + ("A" if payload[-2] != "A" else "B") + payload[-1]
    assert page_status(app, f"{flipped}.{rest}") == 303
    # A character inside the signature: the last one also carries unused padding bits,
    # so changing it can leave the signature's bytes as they were.
    signature_char = "A" if cookie[-5] != "A" else "B"
    assert page_status(app, cookie[:-5] + signature_char + cookie[-4:]) == 303


def test_a_cookie_signed_with_another_key_is_refused(password_app, app):
    other = password_app(SECRET_KEY=OTHER_KEY)
    cookie = other.session_interface.get_signing_serializer(other).dumps(signed_in_payload(app))
    assert page_status(app, cookie) == 303


@pytest.mark.parametrize(("age", "status"), [(DAY - 60, 200), (DAY + 60, 303)])
def test_the_server_refuses_a_cookie_older_than_session_days(app, monkeypatch, age, status):
    serializer = app.session_interface.get_signing_serializer(app)
    # The cookie's own Expires is the browser's business; the signed time is ours.
    monkeypatch.setattr(serializer.make_signer(), "get_timestamp", lambda: int(time.time() - age))
    cookie = serializer.dumps(signed_in_payload(app))
    monkeypatch.undo()
    assert page_status(app, cookie) == status


def test_a_cookie_flask_itself_signed_is_accepted(app):
    # Same key, salt, derivation and digest as Flask's own session cookie: a cookie that
    # Flask's default session interface signed (any Flask app sharing the key) is valid.
    flask_serializer = SecureCookieSessionInterface().get_signing_serializer(app)
    assert flask_serializer is not None and app.secret_key == TEST_SECRET_KEY
    assert page_status(app, flask_serializer.dumps(signed_in_payload(app))) == 200


def test_the_cookie_holds_only_the_session_and_no_fingerprint(app):
    payload = signed_in_payload(app)
    # Who, and which session of theirs (the row sign-out deletes): nothing else.
    assert set(payload) == {"_user_id", "_fresh", "_permanent", "sid"}
    assert len(payload["sid"]) == 22
    client = app.test_client()
    cookie = sign_in(client).headers["Set-Cookie"]
    assert not cookie.startswith("session=.")  # small enough not to be compressed


def test_nested_state_round_trips_as_plain_json(app):
    # What Authlib keeps for an OpenID sign-in in progress.
    state = {"data": {"redirect_uri": "http://127.0.0.1/auth/callback", "nonce": "n"}}
    state["exp"] = 1.5e9
    client = app.test_client()
    with client.session_transaction() as session:
        session["_state_idp_abc"] = state
    client.get("/login")
    with client.session_transaction() as session:
        assert session["_state_idp_abc"] == state


def test_a_session_read_by_the_response_varies_on_cookie(app):
    client = app.test_client()
    sign_in(client)
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers.getlist("Vary") == ["Cookie"]


def test_a_remember_me_cookie_signs_nobody_in(app):
    # Flask-Login would take a remember_token cookie (signed with SECRET_KEY, no
    # SESSION_DAYS check) as a sign-in. The app never issues one, so none is honoured.
    user_id = signed_in_payload(app)["_user_id"]
    with app.test_request_context():
        remembered = encode_cookie(user_id)
    client = app.test_client()
    client.set_cookie("remember_token", remembered)
    assert client.get("/").status_code == 303


def test_a_stray_remember_me_cookie_does_not_hide_an_api_token(app):
    client = app.test_client()
    client.set_cookie("remember_token", "anything")
    bearer = {"Authorization": f"Bearer {api_token()[0]}"}
    assert chat_status(client, headers=bearer) == 200


def test_a_session_cookie_is_never_compressed(app):
    """itsdangerous compresses a payload when that is shorter, which some random session
    ids make it: the cookie's shape must not depend on the id drawn."""
    import secrets

    serializer = app.session_interface.get_signing_serializer(app)
    payload = signed_in_payload(app)
    for _ in range(500):
        cookie = serializer.dumps({**payload, "sid": secrets.token_urlsafe(16)})
        assert not cookie.startswith(".")
        assert serializer.loads(cookie)["_user_id"] == payload["_user_id"]
