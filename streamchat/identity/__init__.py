"""Identity: who may spend the key (docs/architecture.md, "Request lifecycle").

Holds the accounts (password users and API tokens, ``accounts``), the session and the
gate that refuses anonymous requests (``session``, Flask-Login), the signed session
cookie, checked with as little work per request as it takes (``cookies``), the password sign-in
routes (``routes``), OpenID Connect sign-in (``oidc``, Authlib), throttled guessing
(``throttle``, in the rate-limit storage, else the machine's SQLite file) and the CLI
that makes users and tokens (``cli``). ``install_identity`` wires them on an app.

It may import settings, errors, machine_db and runtime. What it needs from the web layer (the
same-origin check, the client address) is handed in by app.py. streamchat.web and
app.py import it; budgets key on the identities it gives (``current_identity``).
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask

from ..machine_db import MachineDatabase
from ..settings.auth import AuthSettings
from .accounts import Accounts, Identity
from .cli import create_token, create_user
from .oidc import allow_list, install_oidc
from .routes import SignIn, install_routes
from .session import current_identity, install_session
from .throttle import SignInThrottle

__all__ = ["Identity", "current_identity", "install_identity"]


def install_identity(
    app: Flask,
    auth: AuthSettings,
    storage_uri: str,
    database: MachineDatabase,
    same_origin: Callable[[], None],
    client_address: Callable[[], str],
) -> None:
    """The CLI always; with AUTH set, the session, the gate and the sign-in routes."""
    app.cli.add_command(create_user)
    app.cli.add_command(create_token)
    if not auth.enabled:
        return
    accounts = Accounts(auth.users, auth.tokens)
    allowed = lambda email: False  # noqa: E731 (no OpenID accounts in password mode)
    if auth.mode == "oidc":
        install_oidc(app, auth)
        allowed = allow_list(auth)
    install_session(app, auth, accounts, allowed)
    throttle = SignInThrottle(storage_uri, database)
    install_routes(app, SignIn(auth, accounts, throttle, same_origin, client_address))
