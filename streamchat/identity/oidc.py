"""Sign-in through an OpenID Connect provider with Authlib's Flask client: authorization
code flow with PKCE, state and nonce (Authlib keeps them in the session and checks them),
and only verified emails on the allow-list get in. The routes are in
streamchat.web.signin; this module registers the provider and checks what comes back.

The client talks to ``OIDC_ISSUER`` only: the discovery document's token and key
endpoints must be on the issuer's own origin.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from authlib.integrations.flask_client import OAuth
from flask import Flask, current_app

from ..errors import Refusal
from ..settings.auth import AuthSettings
from .accounts import Identity
from .session import oidc_identity

LOG = logging.getLogger("streamchat.identity")
_CLIENT = "idp"
_EXTENSION = "streamchat.oidc"


class OidcRefused(Refusal):
    """The provider's answer signs nobody in. ``reason``: ``failed`` (bad state, code or
    token), ``no_verified_email`` or ``not_allowed``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def allow_list(auth: AuthSettings):
    """``allowed(email)``: whether this (verified) email may sign in."""

    def allowed(email: str) -> bool:
        email = email.lower()
        if auth.oidc_allow_any_account:
            return True
        domain = email.rpartition("@")[2]
        return email in auth.oidc_allowed_emails or domain in auth.oidc_allowed_domains

    return allowed


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc.lower()


def install_oidc(app: Flask, auth: AuthSettings) -> None:
    """Register the provider with Authlib for streamchat.web.signin's routes."""
    oauth = OAuth(app)
    oauth.register(
        _CLIENT,
        client_id=auth.oidc_client_id,
        client_secret=auth.oidc_client_secret,
        server_metadata_url=f"{auth.oidc_issuer}/.well-known/openid-configuration",
        client_kwargs={"scope": "openid email", "code_challenge_method": "S256"},
    )
    app.extensions[_EXTENSION] = (oauth, allow_list(auth), auth)


def oidc_installed() -> bool:
    """Whether this app signs in through an OpenID provider."""
    return _EXTENSION in current_app.extensions


def provider_client():
    """Authlib's client for the provider, its discovery document checked."""
    oauth, _, auth = current_app.extensions[_EXTENSION]
    client = oauth.create_client(_CLIENT)
    metadata = client.load_server_metadata()
    issuer = _origin(auth.oidc_issuer)
    for key in ("authorization_endpoint", "token_endpoint", "jwks_uri", "userinfo_endpoint"):
        if key in metadata and _origin(str(metadata[key])) != issuer:
            raise RuntimeError(f"OIDC discovery's {key} is not on OIDC_ISSUER's origin")
    return client


def identity_from_callback() -> Identity:
    """Exchange the callback's code, check the ID token and the email; the identity to
    sign in, or OidcRefused."""
    _, allowed, _ = current_app.extensions[_EXTENSION]
    client = provider_client()
    try:
        token = client.authorize_access_token()
    except Exception as error:  # a bad state, code or token: never sign anyone in
        LOG.warning("oidc sign-in failed: %s", type(error).__name__)
        raise OidcRefused("failed") from None
    claims = token.get("userinfo") or {}
    if "email" not in claims and claims.get("sub"):
        # Many providers put the email in the UserInfo response, not the ID token.
        info = client.userinfo(token=token)
        claims = info if info.get("sub") == claims["sub"] else {}
    email = str(claims.get("email") or "")
    if not email or claims.get("email_verified") is not True:
        raise OidcRefused("no_verified_email")
    if not allowed(email):
        raise OidcRefused("not_allowed")
    return oidc_identity(email.lower())
