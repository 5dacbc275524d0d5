"""The sign-in routes: the password form (``GET``/``POST /login``), ``POST /logout``, and
OpenID Connect's ``/auth/login`` and ``/auth/callback``.

Sign-in and sign-out posts pass the same-origin check first, so no other site can sign a
visitor in or out. Identity (streamchat.identity) checks; this module answers, sets the
device cookie after a password sign-in, and writes the audit trail (web.audit).
"""

from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, request, session, url_for
from flask_login import logout_user

from ..identity import SignIn, current_identity
from ..identity.devices import DEVICE_COOKIE, DEVICE_COOKIE_PATH, DEVICE_DAYS
from ..identity.oidc import OidcRefused, identity_from_callback, oidc_installed, provider_client
from ..identity.session import SESSION_KEY, local_path, sign_in
from ..identity.throttle import SignInThrottled, SignInUnavailable
from ..runtime import current_runtime
from .audit import audit
from .errors import api_error_for
from .origin import check_same_origin
from .ratelimit import client_address

signin = Blueprint("signin", __name__)

WRONG = "That user name and password do not match."
_EXTENSION = "streamchat.signin"


def _state() -> SignIn:
    return current_app.extensions[_EXTENSION]


def _same_origin() -> None:
    check_same_origin(current_runtime().settings.allowed_origins)


def _form(status: int = 200, message: str | None = None, **headers: str):
    page = render_template(
        "login.html",
        mode=_state().auth.mode,
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
    _same_origin()
    if state.auth.mode != "password":
        return _form(404, "Sign in with your identity provider.")
    name = request.form.get("username", "")
    password = request.form.get("password", "")
    address = client_address()
    # A browser that signed in as this name before is counted on its own (its device).
    device = state.devices.device(request.cookies.get(DEVICE_COOKIE), name)
    user = name if state.accounts.has_user(name) else None  # never log other text
    try:
        state.throttle.check(address, name, device)
        identity = state.accounts.check_password(name, password) if name and password else None
        if identity is None:
            state.throttle.failed(address, name, device)
            audit("sign_in_failed", user, known_device=device is not None)
            return _form(401, WRONG)
    except (SignInThrottled, SignInUnavailable) as refusal:
        if isinstance(refusal, SignInThrottled):
            audit("sign_in_locked_out", user, limit=refusal.limit)
        error = api_error_for(refusal)
        return _form(error.status, error.message, **{"Retry-After": str(error.retry_after)})
    try:
        session_id = sign_in(identity, state.sessions)
    except SignInUnavailable as refusal:
        error = api_error_for(refusal)
        return _form(error.status, error.message, **{"Retry-After": str(error.retry_after)})
    audit("sign_in", identity.name, session_id, method="password", known_device=device is not None)
    response = redirect(local_path(request.form.get("next")) or "/", 303)
    if device is None:
        _set_device_cookie(response, state.devices.new(identity.name))
    return response


def _set_device_cookie(response, value: str) -> None:
    """The device cookie: HttpOnly, Secure when the request came over HTTPS (as the
    session cookie), SameSite=Lax, sent only to /login, for DEVICE_DAYS."""
    response.set_cookie(
        DEVICE_COOKIE,
        value,
        max_age=DEVICE_DAYS * 86400,
        path=DEVICE_COOKIE_PATH,
        secure=request.is_secure,
        httponly=True,
        samesite="Lax",
    )


@signin.post("/logout")
def logout():
    """End this session (its cookie names nobody from now on); 303 to the sign-in page."""
    _same_origin()
    identity = current_identity()
    if identity is not None:
        audit("sign_out", identity.name)
    _state().sessions.end(session.get(SESSION_KEY))
    logout_user()
    session.clear()
    return redirect("/login", 303)


@signin.post("/logout/everywhere")
def logout_everywhere():
    """End every session of the signed-in person, on every browser; 303 to sign-in."""
    _same_origin()
    identity = current_identity()
    if identity is not None and identity.kind != "token":
        audit("sign_out_everywhere", identity.name)
        _state().sessions.end_all(identity.owner)
    logout_user()
    session.clear()
    return redirect("/login", 303)


@signin.get("/auth/login")
def oidc_login():
    """Off to the provider (Authlib adds state, nonce and the PKCE challenge)."""
    if not oidc_installed():
        return redirect("/login", 303)
    client = provider_client()
    return client.authorize_redirect(external_url("signin.oidc_callback"))


def external_url(endpoint: str) -> str:
    """The absolute URL of ``endpoint``: on PUBLIC_URL when it is set, never on the
    request's Host then (start-up makes sure ALLOWED_HOSTS is set otherwise)."""
    public_url = _state().auth.public_url
    if public_url:
        return public_url + url_for(endpoint)
    return url_for(endpoint, _external=True)


@signin.get("/auth/callback")
def oidc_callback():
    """Back from the provider: signed in, or the sign-in page saying why not."""
    if not oidc_installed():
        return redirect("/login", 303)
    try:
        identity = identity_from_callback()
    except OidcRefused as refusal:
        audit("sign_in_failed", None, method="oidc", reason=refusal.reason)
        error = api_error_for(refusal)
        return render_template("login.html", mode="oidc", message=error.message), error.status
    session_id = sign_in(identity, _state().sessions)
    audit("sign_in", identity.name, session_id, method="oidc")
    return redirect("/", 303)


def install_signin_routes(app, state: SignIn) -> None:
    """Register the sign-in blueprint with what it needs."""
    app.extensions[_EXTENSION] = state
    app.register_blueprint(signin)
