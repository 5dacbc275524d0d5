"""Sign-in through an OpenID Connect provider with Authlib's Flask client: authorization
code flow with PKCE, state and nonce (Authlib keeps them in the session and checks them),
callback ``/auth/callback``, and only verified emails on the allow-list get in.

The client talks to ``OIDC_ISSUER`` only: the discovery document's token and key
endpoints must be on the issuer's own origin.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from authlib.integrations.flask_client import OAuth
from flask import Flask, current_app, redirect, render_template, url_for

from ..settings.auth import AuthSettings
from .routes import sign_in, signin
from .session import oidc_identity

LOG = logging.getLogger("streamchat.identity")
_CLIENT = "idp"


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


def _refused(message: str):
    return render_template("login.html", mode="oidc", message=message), 403


def install_oidc(app: Flask, auth: AuthSettings) -> None:
    """Register the provider with Authlib; the routes below use it."""
    oauth = OAuth(app)
    oauth.register(
        _CLIENT,
        client_id=auth.oidc_client_id,
        client_secret=auth.oidc_client_secret,
        server_metadata_url=f"{auth.oidc_issuer}/.well-known/openid-configuration",
        client_kwargs={"scope": "openid email", "code_challenge_method": "S256"},
    )
    app.extensions["streamchat.oidc"] = (oauth, allow_list(auth), auth)


def _client():
    oauth, allowed, auth = current_app.extensions["streamchat.oidc"]
    client = oauth.create_client(_CLIENT)
    metadata = client.load_server_metadata()
    issuer = _origin(auth.oidc_issuer)
    for key in ("authorization_endpoint", "token_endpoint", "jwks_uri", "userinfo_endpoint"):
        if key in metadata and _origin(str(metadata[key])) != issuer:
            raise RuntimeError(f"OIDC discovery's {key} is not on OIDC_ISSUER's origin")
    return client, allowed


@signin.get("/auth/login")
def oidc_login():
    """Off to the provider (Authlib adds state, nonce and the PKCE challenge)."""
    if "streamchat.oidc" not in current_app.extensions:
        return redirect("/login", 303)
    client, _ = _client()
    return client.authorize_redirect(url_for("signin.oidc_callback", _external=True))


@signin.get("/auth/callback")
def oidc_callback():
    """Back from the provider: exchange the code, check the ID token and the email."""
    if "streamchat.oidc" not in current_app.extensions:
        return redirect("/login", 303)
    client, allowed = _client()
    try:
        token = client.authorize_access_token()
    except Exception as error:  # a bad state, code or token: never sign anyone in
        LOG.warning("oidc sign-in failed: %s", type(error).__name__)
        return _refused("Signing in with your identity provider failed. Try again.")
    claims = token.get("userinfo") or {}
    if "email" not in claims and claims.get("sub"):
        # Many providers put the email in the UserInfo response, not the ID token.
        info = client.userinfo(token=token)
        claims = info if info.get("sub") == claims["sub"] else {}
    email = str(claims.get("email") or "")
    if not email or claims.get("email_verified") is not True:
        return _refused("Your account has no verified email address.")
    if not allowed(email):
        return _refused("This account may not use this app.")
    sign_in(oidc_identity(email.lower()))
    return redirect("/", 303)
