"""The sign-in routes: the password form (``GET``/``POST /login``) and ``POST /logout``.

The OpenID Connect routes are in ``oidc.py``, on the same blueprint. Sign-in and
sign-out posts pass the same-origin check first (the caller hands it in:
``streamchat.web.origin``), so no other site can sign a visitor in or out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask import Blueprint, current_app, redirect, render_template, request, session
from flask_login import login_user, logout_user

from ..errors import ApiError
from ..settings.auth import AuthSettings
from .accounts import Accounts, Identity
from .session import current_identity, local_path
from .throttle import SignInThrottle

signin = Blueprint("signin", __name__)

WRONG = "That user name and password do not match."
_EXTENSION = "streamchat.identity"


@dataclass(frozen=True)
class SignIn:
    """What the sign-in routes need, installed on the app by ``install_identity``."""

    auth: AuthSettings
    accounts: Accounts
    throttle: SignInThrottle
    same_origin: Callable[[], None]
    client_address: Callable[[], str]


def sign_in(identity: Identity) -> None:
    """Start a new session for ``identity``: nothing of the old one is kept."""
    session.clear()
    login_user(identity)
    session.pop("_id", None)  # the fingerprint session protection would use; it is off
    session.permanent = True


def _state() -> SignIn:
    return current_app.extensions[_EXTENSION]


def _form(status: int = 200, message: str | None = None, **headers: str):
    state = _state()
    page = render_template(
        "login.html",
        mode=state.auth.mode,
        message=message,
        next=local_path(request.values.get("next")),
        username=request.form.get("username", "") if status != 200 else "",
    )
    return page, status, headers


@signin.get("/login")
def login_form():
    """The sign-in page: the password form, or the button to the identity provider."""
    if current_identity() is not None:
        return redirect(local_path(request.args.get("next")) or "/", 303)
    return _form()


@signin.post("/login")
def login():
    """Check a user name and password; 303 to the page (or ``next``) on success."""
    state = _state()
    state.same_origin()
    if state.auth.mode != "password":
        return _form(404, "Sign in with your identity provider.")
    name = request.form.get("username", "")
    password = request.form.get("password", "")
    address = state.client_address()
    try:
        state.throttle.check(address, name)
    except ApiError as refusal:
        return _form(429, refusal.message, **{"Retry-After": str(refusal.retry_after)})
    identity = state.accounts.check_password(name, password) if name and password else None
    if identity is None:
        state.throttle.failed(address, name)
        return _form(401, WRONG)
    sign_in(identity)
    return redirect(local_path(request.form.get("next")) or "/", 303)


@signin.post("/logout")
def logout():
    """End the session; 303 to the sign-in page."""
    _state().same_origin()
    logout_user()
    session.clear()
    return redirect("/login", 303)


def install_routes(app, state: SignIn) -> None:
    """Register the sign-in blueprint with what it needs."""
    app.extensions[_EXTENSION] = state
    app.register_blueprint(signin)
