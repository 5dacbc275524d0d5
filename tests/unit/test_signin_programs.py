"""API tokens, the create-user and create-token commands, and throttled guessing, through
Flask's test client and Click's runner."""

from __future__ import annotations

import hashlib

import pytest
from click.testing import CliRunner
from werkzeug.security import check_password_hash

from streamchat.identity.accounts import TOKEN_PREFIX
from streamchat.identity.cli import create_token, create_user
from tests.support.payloads import CHAT
from tests.support.signin import (
    TEST_PASSWORD,
    TEST_USER,
    api_token,
    chat_status,
    sign_in,
)


@pytest.fixture
def app(password_app):
    return password_app()


# --- API tokens -------------------------------------------------------------------------


def test_a_token_streams_a_reply(app):
    token = api_token()[0]
    response = app.test_client().post(
        "/api/chat", json=CHAT, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200 and b'"finish_reason":"stop"' in response.data


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer sc_made-up-token-that-nobody-issued-0123456789",
        "Bearer " + "0" * 64,  # the entry's hash itself is not a token
        "Basic YWxpY2U6dGVzdA==",
        "Bearer",
        "Bearer ",
    ],
)
def test_a_made_up_token_gets_401_and_no_upstream_call(app, authorization):
    if authorization.endswith("0" * 64):
        authorization = "Bearer " + api_token()[1].split(":")[1]
    response = app.test_client().post(
        "/api/chat", json=CHAT, headers={"Authorization": authorization}
    )
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "unauthenticated"
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert app.transport.requests == []


def test_a_token_also_opens_the_page_but_never_shows_itself(app):
    token = api_token()[0]
    page = app.test_client().get("/", headers={"Authorization": f"Bearer {token}"})
    assert page.status_code == 200
    assert token not in page.get_data(as_text=True)


# --- the commands -----------------------------------------------------------------------


def test_create_user_prints_one_line_that_signs_in(password_app):
    runner = CliRunner()
    password = "a-long-enough-password"
    result = runner.invoke(create_user, ["alice"], input=f"{password}\n{password}\n")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 1
    name, hashed = lines[0].split(":", 1)
    assert name == "alice" and hashed.startswith("scrypt:")
    assert check_password_hash(hashed, password) and password not in result.stdout
    app = password_app(AUTH_USERS=lines[0])
    assert sign_in(app.test_client(), "alice", password).status_code == 303


@pytest.mark.parametrize(
    ("name", "given", "complaint"),
    [
        ("alice", "short-pass\nshort-pass\n", "at least 12"),
        ("alice", "a-long-enough-password\nanother-long-password\n", "differ"),
        ("alice", "a-long-enough-password\n", "twice"),
        ("al:ice", "a-long-enough-password\na-long-enough-password\n", "NAME"),
    ],
)
def test_create_user_refuses(name, given, complaint):
    result = CliRunner().invoke(create_user, [name], input=given)
    assert result.exit_code != 0
    assert complaint in result.output
    assert "scrypt:" not in result.stdout


def test_create_token_prints_the_token_then_its_hashed_entry(password_app):
    result = CliRunner().invoke(create_token, ["deploy-bot"])
    assert result.exit_code == 0
    token, entry = result.stdout.splitlines()
    assert token.startswith(TOKEN_PREFIX) and len(token) >= len(TOKEN_PREFIX) + 43  # 32 bytes
    name, digest = entry.split(":")
    assert name == "deploy-bot" and digest == hashlib.sha256(token.encode()).hexdigest()
    assert token not in entry and token[len(TOKEN_PREFIX) :] not in entry
    app = password_app(API_TOKENS=entry)
    bearer = {"Authorization": f"Bearer {token}"}
    assert chat_status(app.test_client(), headers=bearer) == 200
    second = CliRunner().invoke(create_token, ["deploy-bot"]).stdout.splitlines()[0]
    assert second != token  # random each time


# --- throttled guessing -----------------------------------------------------------------


def wrong(client, user=TEST_USER, address="127.0.0.20"):
    return sign_in(client, user, "wrong-password-123", environ_base={"REMOTE_ADDR": address})


def test_the_11th_wrong_password_from_one_address_gets_429(app):
    client = app.test_client()
    assert [wrong(client, f"user{i}").status_code for i in range(10)] == [401] * 10
    refused = wrong(client, "someone-else")
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 15 * 60
    # Not even the right password gets through from that address now ...
    right = sign_in(client, environ_base={"REMOTE_ADDR": "127.0.0.20"})
    assert right.status_code == 429
    # ... while another address may still sign in.
    assert sign_in(client, environ_base={"REMOTE_ADDR": "127.0.0.21"}).status_code == 303


def test_guessing_one_name_from_many_addresses_is_throttled_too(app):
    client = app.test_client()
    codes = [wrong(client, address=f"127.0.1.{i}").status_code for i in range(11)]
    assert codes == [401] * 10 + [429]
    assert sign_in(client, environ_base={"REMOTE_ADDR": "127.0.2.1"}).status_code == 429
    assert sign_in(client, "bob", "other-password-not-real").status_code == 303


def test_successful_sign_ins_are_not_counted(app):
    client = app.test_client()
    for _ in range(12):
        assert sign_in(client, TEST_USER, TEST_PASSWORD).status_code == 303
