"""Sessions that can be ended, tried as an attacker would: a cookie kept after sign-out,
a cookie from another browser after "sign out everywhere" or `end-sessions`, a session
left idle, a user removed from AUTH_USERS, and the database gone."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from streamchat.identity.sessions import SESSIONS, session_hash
from streamchat.runtime import runtime_of
from tests.support.signin import TEST_USER, password_settings, sign_in, user_entries


@pytest.fixture
def app(make_app):
    return make_app(**password_settings())


def session_cookie(client) -> str:
    cookie = client.get_cookie("session")
    assert cookie is not None
    return cookie.value


def with_cookie(app, value: str):
    client = app.test_client()
    client.set_cookie("session", value)
    return client


def statuses(app, cookie: str) -> tuple[int, int]:
    """(the API, the page) for a client that holds ``cookie``."""
    client = with_cookie(app, cookie)
    return client.get("/api/budget").status_code, client.get("/").status_code


def engine_of(app):
    return app.extensions["streamchat.signin"].sessions.engine


def test_after_sign_out_the_old_cookie_names_nobody(app):
    client = app.test_client()
    sign_in(client)
    kept = session_cookie(client)
    assert statuses(app, kept) == (200, 200)
    assert client.post("/logout").status_code == 303
    assert statuses(app, kept) == (401, 303)


def test_two_sign_ins_are_two_sessions_with_different_cookies(app):
    first, second = app.test_client(), app.test_client()
    sign_in(first)
    sign_in(second)
    assert session_cookie(first) != session_cookie(second)
    first.post("/logout")
    assert statuses(app, session_cookie(second)) == (200, 200)


def test_sign_out_everywhere_ends_another_browsers_session(app):
    laptop, phone = app.test_client(), app.test_client()
    sign_in(laptop)
    sign_in(phone)
    phones, laptops = session_cookie(phone), session_cookie(laptop)
    assert laptop.post("/logout/everywhere").status_code == 303
    assert statuses(app, phones) == (401, 303)
    assert statuses(app, laptops) == (401, 303)


def test_end_sessions_from_the_command_line(app):
    browser = app.test_client()
    sign_in(browser)
    kept = session_cookie(browser)
    result = app.test_cli_runner().invoke(args=["end-sessions", TEST_USER])
    assert result.exit_code == 0, result.output
    assert "Ended 1 session of alice." in result.output
    assert statuses(app, kept) == (401, 303)


def test_an_idle_session_has_ended(make_app):
    app = make_app(**password_settings(SESSION_IDLE_DAYS="1"))
    client = app.test_client()
    sign_in(client)
    kept = session_cookie(client)
    assert statuses(app, kept) == (200, 200)
    with engine_of(app).begin() as connection:
        connection.execute(
            update(SESSIONS).values(last_seen_ms=SESSIONS.c.last_seen_ms - 2 * 86_400_000)
        )
    app.extensions["streamchat.signin"].sessions._seen.clear()  # as if a second went by
    assert statuses(app, kept) == (401, 303)


def test_a_removed_user_is_signed_out_at_the_next_request(make_app, tmp_path):
    database = f"sqlite:///{tmp_path}/shared.db"
    from tests.support.database import migrate

    migrate(database)
    before = make_app(DATABASE_URL=database, **password_settings())
    client = before.test_client()
    sign_in(client)
    kept = session_cookie(client)
    bob_only = ",".join(e for e in user_entries().split(",") if not e.startswith("alice:"))
    after = make_app(DATABASE_URL=database, **password_settings(AUTH_USERS=bob_only))
    assert statuses(before, kept) == (200, 200)
    assert statuses(after, kept) == (401, 303)


def test_a_made_up_session_id_in_a_validly_signed_cookie_is_nobody(app):
    client = app.test_client()
    sign_in(client)
    with client.session_transaction() as session:
        session["sid"] = "A" * 22  # as if the secret key had leaked: still no session
    assert client.get("/api/budget").status_code == 401


def test_with_the_database_gone_a_session_is_refused_not_waved_through(make_app, tmp_path):
    app = make_app(**password_settings())
    client = app.test_client()
    sign_in(client)
    engine = engine_of(app)
    with engine.begin() as connection:
        connection.exec_driver_sql("DROP TABLE sessions")
    app.extensions["streamchat.signin"].sessions._seen.clear()
    refused = client.get("/api/budget")
    assert refused.status_code == 503
    assert refused.get_json()["error"]["code"] == "sign_in_unavailable"
    assert runtime_of(app) is not None


def test_a_session_is_logged_only_as_a_hash():
    assert session_hash("abc") == session_hash("abc") != "abc"
    assert len(session_hash("abc")) == 16 and session_hash(None) is None


def test_in_a_database_outage_a_session_seen_lately_goes_on(app):
    """Replies still stream for someone already signed in (conversations issue); a
    session this worker has not seen lately is still refused."""
    from streamchat.identity import sessions as sessions_module

    client = app.test_client()
    sign_in(client)
    assert client.get("/api/budget").status_code == 200  # seen live just now
    with engine_of(app).begin() as connection:
        connection.exec_driver_sql("DROP TABLE sessions")
    seen = app.extensions["streamchat.signin"].sessions._seen
    for entry in seen.values():
        entry.checked_at -= 2  # due for a new read, which fails
    assert client.get("/api/budget").status_code == 200
    for entry in seen.values():
        entry.checked_at -= sessions_module.OUTAGE_GRACE_SECONDS
    assert client.get("/api/budget").status_code == 503
