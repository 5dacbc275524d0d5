"""Identity: who may spend the key (docs/architecture.md, "Request lifecycle").

Holds the accounts (password users and API tokens, ``accounts``), the session and the
gate that refuses anonymous requests (``session``, Flask-Login), the signed session
cookie, checked with as little work per request as it takes (``cookies``), OpenID
Connect (``oidc``, Authlib: the provider and the checks of its answer), throttled
guessing (``throttle``, in the shared-state layer), the device cookies that keep a
user's own browser out of a lockout (``devices``) and the CLI that makes users and
tokens (``cli``). ``install_identity`` wires them on an app; the sign-in routes are
streamchat.web.signin.

It may import settings, errors and state. streamchat.web and app.py import it; budgets
key on the identities it gives (``current_identity``).
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask
from sqlalchemy.engine import Engine

from ..settings import SettingsError
from ..settings.auth import AuthSettings
from ..state import SharedState
from .accounts import Accounts, Identity
from .cli import create_token, create_user, end_sessions_command
from .devices import DeviceCookies
from .oidc import allow_list, install_oidc
from .session import current_identity, install_session
from .sessions import SessionStore
from .throttle import SignInThrottle

__all__ = ["Identity", "SignIn", "current_identity", "install_identity"]


@dataclass(frozen=True)
class SignIn:
    """What the sign-in routes need: the settings, the accounts, the throttle and the
    device cookies."""

    auth: AuthSettings
    accounts: Accounts
    throttle: SignInThrottle
    sessions: SessionStore
    devices: DeviceCookies


def install_identity(
    app: Flask, auth: AuthSettings, state: SharedState, engine: Engine
) -> SignIn | None:
    """The CLI always; with AUTH set, the session and the gate, and what the sign-in
    routes need (None without AUTH: no routes). Sessions live in ``engine``'s database."""
    sessions = SessionStore(engine, auth.session_days, auth.session_idle_days)
    app.cli.add_command(create_user)
    app.cli.add_command(create_token)
    app.cli.add_command(end_sessions_command(sessions))
    if not auth.enabled:
        return None
    accounts = Accounts(auth.users, auth.tokens)
    allowed = lambda email: False  # noqa: E731 (no OpenID accounts in password mode)
    if auth.mode == "oidc":
        install_oidc(app, auth)
        allowed = allow_list(auth)
        for name, _, user in auth.tokens:
            if user is not None and not allowed(user):
                raise SettingsError(f"API_TOKENS: {name} belongs to {user}, who may not sign in")
    install_session(app, auth, accounts, allowed, sessions)
    devices = DeviceCookies(auth.secret_key or "")
    return SignIn(auth, accounts, SignInThrottle(state), sessions, devices)
