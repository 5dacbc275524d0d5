"""PUBLIC_URL (issue 23): the OpenID redirect URI is built from it, never from the Host a
client sends; with AUTH=oidc and neither PUBLIC_URL nor ALLOWED_HOSTS, start-up stops."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import pytest

from streamchat.settings import SettingsError
from tests.support.signin import TEST_SECRET_KEY

ISSUER = "http://127.0.0.1:9"
OIDC = {
    "AUTH": "oidc",
    "SECRET_KEY": TEST_SECRET_KEY,
    "OIDC_ISSUER": ISSUER,
    "OIDC_CLIENT_ID": "test-client",
    "OIDC_CLIENT_SECRET": "test-client-secret-not-real",
    "OIDC_ALLOWED_DOMAINS": "example.com",
}


def provider_known(app) -> None:
    """The provider's discovery document, as if already fetched (nothing listens at the
    issuer; what is tested is the redirect this app builds)."""
    client = app.extensions["authlib.integrations.flask_client"].create_client("idp")
    client.server_metadata.update(
        {
            "issuer": ISSUER,
            "authorization_endpoint": f"{ISSUER}/auth",
            "token_endpoint": f"{ISSUER}/token",
            "jwks_uri": f"{ISSUER}/jwks",
            "_loaded_at": time.time(),
        }
    )


def test_the_redirect_uri_comes_from_public_url_whatever_the_host(make_app):
    app = make_app(**OIDC, PUBLIC_URL="https://chat.example.com/")
    provider_known(app)
    response = app.test_client().get("/auth/login", headers={"Host": "evil.example"})
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.netloc == "127.0.0.1:9"  # off to the provider
    (redirect_uri,) = parse_qs(location.query)["redirect_uri"]
    assert redirect_uri == "https://chat.example.com/auth/callback"


def test_oidc_needs_public_url_or_allowed_hosts(make_app):
    with pytest.raises(SettingsError, match="PUBLIC_URL") as caught:
        make_app(**OIDC)
    assert "\n" not in str(caught.value)
    make_app(**OIDC, ALLOWED_HOSTS="chat.example.com")


@pytest.mark.parametrize("value", ["chat.example.com", "ftp://chat.example.com", "https://x/?a=1"])
def test_a_malformed_public_url_stops_start_up(make_app, value):
    with pytest.raises(SettingsError, match="PUBLIC_URL must look like"):
        make_app(**OIDC, PUBLIC_URL=value)
