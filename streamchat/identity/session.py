"""The session and the gate: Flask-Login keeps who is signed in (a signed cookie), API
tokens come as ``Authorization: Bearer``, and with ``AUTH`` set every request but the
open ones needs an identity before any other work.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from urllib.parse import urlsplit

from flask import Flask, current_app, g, redirect, request, session, url_for
from flask_login import LoginManager, current_user, login_user

from ..errors import Refusal
from ..settings.auth import AuthSettings
from .accounts import OIDC_PREFIX, Accounts, Identity
from .cookies import SessionCookies
from .sessions import SessionStore
from .throttle import SignInUnavailable

# Open without an identity: probes, the metrics endpoint (it has its own token), the
# sign-in routes themselves and the static files.
OPEN_BLUEPRINTS = frozenset({"health", "metrics", "signin"})


class _LoginManager(LoginManager):
    """Flask-Login without two things this app never uses, each paid on every request.

    Session protection is off (its address/agent fingerprint would only mark sessions
    non-fresh; the cookie is signed, expires and is renewed at sign-in), yet Flask-Login
    hashes the address and agent (sha512) before it looks at that setting, and stores the
    hash in the cookie at sign-in. No remember-me cookie is ever issued (the session
    itself lasts SESSION_DAYS), yet an after-request hook looks for one to set or clear,
    and one sent by a client would be honoured.
    """

    def __init__(self, app: Flask):
        super().__init__()
        self.session_protection = None
        self._session_identifier_generator = lambda: None
        # The page is handed the identity; current_user in every template context
        # would be one more lookup per page.
        self.init_app(app, add_context_processor=False)

    def _update_remember_cookie(self, response):
        return response

    def _load_user_from_remember_cookie(self, cookie):
        # A remember_token cookie would sign in without the SESSION_DAYS check, and
        # Flask-Login then skips the request loader: honour none, and let an API token
        # through as if the cookie were not there.
        if self._request_callback is None:
            return None
        return self._load_user_from_request(request)


class Unauthenticated(Refusal):
    """An API call that names nobody (no session, no valid token) where AUTH is set."""


SESSION_KEY = "sid"  # the session row's id, in the signed cookie


def sign_in(identity: Identity, sessions: SessionStore) -> str:
    """Start a new session for ``identity``: nothing of the old one is kept; its id."""
    session.clear()
    login_user(identity)
    session.pop("_id", None)  # the fingerprint session protection would use; it is off
    session_id = sessions.start(
        identity.owner, request.user_agent.string or "", request.remote_addr or ""
    )
    session[SESSION_KEY] = session_id
    session.permanent = True
    return session_id


def local_path(target: str | None) -> str | None:
    """``target`` when it is a path on this site (``/...``), else None: never another
    host, a scheme, ``//host`` or ``/\\host``, and no control characters."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return None
    if any(ord(c) < 0x20 or c == "\x7f" for c in target) or "\\" in target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def oidc_identity(email: str) -> Identity:
    """The identity of someone signed in through the OpenID provider."""
    return Identity(OIDC_PREFIX + email, email, "oidc")


def current_identity() -> Identity | None:
    """Who made this request, or None (anonymous, or AUTH=none)."""
    # Once loaded, Flask-Login keeps the user in g._login_user (login_user and logout_user
    # update it). Reading it there is one lookup where current_user goes through three
    # proxies, and the gate, the page and the request log each ask.
    user = g.get("_login_user")
    if user is None:
        if not hasattr(current_app, "login_manager"):
            return None
        user = current_user._get_current_object()
    return user if isinstance(user, Identity) else None


def _session_loader(
    auth: AuthSettings,
    accounts: Accounts,
    allowed: Callable[[str], bool],
    sessions: SessionStore,
) -> Callable[[str], Identity | None]:
    """Flask-Login's user loader: the identity a session cookie names, while both it and
    its session live."""

    def load_from_session(user_id: str) -> Identity | None:
        # Someone removed from AUTH_USERS, or no longer allowed by the OpenID lists, is
        # nobody at their next request, whatever their cookie says.
        if user_id.startswith(OIDC_PREFIX):
            email = user_id[len(OIDC_PREFIX) :]
            found = oidc_identity(email) if auth.mode == "oidc" and allowed(email) else None
        else:
            found = accounts.from_session(user_id)
        if found is None:
            return None
        try:
            live = sessions.is_live(session.get(SESSION_KEY), found.owner)
        except SignInUnavailable:
            # Anonymous for whoever asks later in this request (the log line), and the
            # gate answers 503 rather than 401: the cookie may well be good.
            g.session_unchecked = True
            return None
        return found if live else None

    return load_from_session


def install_session(
    app: Flask,
    auth: AuthSettings,
    accounts: Accounts,
    allowed: Callable[[str], bool],
    sessions: SessionStore,
) -> LoginManager:
    """Flask-Login on ``app``, the cookie settings, and the gate (AUTH must not be none).
    ``allowed(email)`` says whether an OpenID account may still come in; a cookie counts
    only while its session in ``sessions`` lives."""
    app.secret_key = auth.secret_key
    app.session_interface = SessionCookies()
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=timedelta(days=auth.session_days),
        # The lifetime counts from sign-in: no new cookie (and no signing) per request.
        SESSION_REFRESH_EACH_REQUEST=False,
    )
    manager = _LoginManager(app)

    manager.user_loader(_session_loader(auth, accounts, allowed, sessions))

    @manager.request_loader
    def load_from_token(req) -> Identity | None:
        scheme, _, token = (req.headers.get("Authorization") or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        return accounts.from_token(token.strip())

    @manager.unauthorized_handler
    def refuse():
        if request.path.startswith("/api/"):
            raise Unauthenticated()
        target = request.full_path.rstrip("?") if request.method == "GET" else None
        return redirect(url_for("signin.login_form", next=local_path(target)), 303)

    @app.before_request
    def require_identity():
        if request.blueprint in OPEN_BLUEPRINTS or request.endpoint == "static":
            return None
        if current_identity() is not None:
            return None
        if g.get("session_unchecked"):
            raise SignInUnavailable()
        return manager.unauthorized()

    return manager
