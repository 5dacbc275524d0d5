"""Device cookies (streamchat/identity/devices.py): what the cookie is and says, and that
a device that guesses wrong itself is locked out alone. The flood from other addresses
that must not lock out alice's own browser: tests/server/test_signin_throttle.py."""

from __future__ import annotations

import pytest

from streamchat.identity.devices import DEVICE_COOKIE, DeviceCookies
from tests.support.signin import (
    OTHER_USER,
    TEST_PASSWORD,
    TEST_SECRET_KEY,
    TEST_USER,
    sign_in,
)

WRONG = "not-the-password-1"


@pytest.fixture
def app(password_app):
    return password_app()


def device_header(response) -> str:
    (header,) = [h for h in response.headers.getlist("Set-Cookie") if h.startswith(DEVICE_COOKIE)]
    return header


@pytest.mark.parametrize(
    ("base_url", "secure"), [("http://localhost", False), ("https://localhost", True)]
)
def test_a_sign_in_gives_the_browser_a_device_cookie(app, base_url, secure):
    response = sign_in(app.test_client(), base_url=base_url)
    assert response.status_code == 303
    attributes = [part.strip() for part in device_header(response).split(";")]
    assert "HttpOnly" in attributes and "SameSite=Lax" in attributes
    assert "Path=/login" in attributes and f"Max-Age={365 * 86400}" in attributes
    assert ("Secure" in attributes) is secure
    value = attributes[0].split("=", 1)[1]
    # It names alice and a nonce, signed: nothing else, and only for alice.
    assert DeviceCookies(TEST_SECRET_KEY).device(value, TEST_USER)
    assert DeviceCookies(TEST_SECRET_KEY).device(value, OTHER_USER) is None
    assert (
        DeviceCookies("another-secret-key-not-real-0123456789ab").device(value, TEST_USER) is None
    )
    assert TEST_PASSWORD not in value


def test_a_device_that_guesses_wrong_is_locked_out_alone(app):
    device = app.test_client()
    assert sign_in(device).status_code == 303
    device.post("/logout")
    assert [sign_in(device, password=WRONG).status_code for _ in range(10)] == [401] * 10
    locked = sign_in(device)  # even with the right password now
    assert locked.status_code == 429 and int(locked.headers["Retry-After"]) > 0
    # Its failures counted against it, not against alice or the address: a browser
    # without the cookie signs in (same address, as every test client has).
    assert sign_in(app.test_client()).status_code == 303


def test_a_browser_that_signed_in_keeps_its_device_cookie(app):
    client = app.test_client()
    first = device_header(sign_in(client))
    client.post("/logout")
    again = sign_in(client)
    assert again.status_code == 303
    assert not [h for h in again.headers.getlist("Set-Cookie") if h.startswith(DEVICE_COOKIE)]
    assert (
        client.get_cookie(DEVICE_COOKIE, path="/login").value
        == first.split(";")[0].split("=", 1)[1]
    )
