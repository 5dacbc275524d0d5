"""Sign-in settings (AUTH and what each mode needs), parsed and checked at start-up.

Read by ``load_settings`` (app_settings.py); kept apart so that file keeps one job.
A missing or malformed value stops start-up with one line naming the variable, and
never quotes a secret.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit

from .values import SettingsError, boolean, choice, integer, number, text

MIN_SECRET_KEY_CHARS = 32
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")
NAME = re.compile(r"[A-Za-z0-9._@+-]{1,64}")  # a user or token name


@dataclass(frozen=True)
class AuthSettings:
    """Who may use the app. ``mode`` is none, password or oidc; secrets stay out of repr."""

    mode: str = "none"
    secret_key: str | None = field(default=None, repr=False)
    users: tuple[tuple[str, str], ...] = field(default=(), repr=False)  # (name, werkzeug hash)
    # (name, sha256 hex, the user it belongs to or None: its own identity)
    tokens: tuple[tuple[str, str, str | None], ...] = field(default=(), repr=False)
    session_days: int = 30
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret: str | None = field(default=None, repr=False)
    oidc_allowed_emails: frozenset[str] = frozenset()
    oidc_allowed_domains: frozenset[str] = frozenset()
    oidc_allow_any_account: bool = False
    session_idle_days: float = 7  # a session unused this long has ended
    public_url: str | None = None  # scheme://host[:port][/prefix], no trailing slash

    @property
    def enabled(self) -> bool:
        """True when every page and API request needs an identity."""
        return self.mode != "none"


def _listed(source: Mapping[str, Any], name: str) -> list[str]:
    raw = str(source.get(name) or "")
    return [item.strip() for item in raw.split(",") if item.strip()]


def _entries(source: Mapping[str, Any], name: str, what: str) -> tuple[tuple[str, str], ...]:
    """``name:value`` entries; the error names the entry by its name only (never the value)."""
    entries: dict[str, str] = {}
    for item in _listed(source, name):
        entry_name, sep, value = item.partition(":")
        if not sep or not NAME.fullmatch(entry_name) or not value:
            shown = entry_name if NAME.fullmatch(entry_name) else "an entry"
            raise SettingsError(f"{name}: {shown} must look like name:{what}")
        if entry_name in entries:
            raise SettingsError(f"{name} lists {entry_name} twice")
        entries[entry_name] = value
    return tuple(entries.items())


def _users(source: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    users = _entries(source, "AUTH_USERS", "hash (from flask create-user)")
    for user, hashed in users:
        # werkzeug's format is method$salt$hash; the method may itself hold colons.
        if hashed.count("$") != 2 or not hashed.startswith(("scrypt:", "pbkdf2:")):
            raise SettingsError(
                f"AUTH_USERS: {user} must look like name:hash (from flask create-user)"
            )
    return users


def _tokens(
    source: Mapping[str, Any], users: tuple[tuple[str, str], ...], mode: str
) -> tuple[tuple[str, str, str | None], ...]:
    """API_TOKENS: ``name:sha256hex`` (the token is its own identity) or
    ``name:sha256hex:user`` (the token is that user: an AUTH_USERS name, or with
    AUTH=oidc an email)."""
    shape = "name:sha256hex or name:sha256hex:user (from flask create-token)"
    tokens = []
    for name, value in _entries(source, "API_TOKENS", "sha256hex (from flask create-token)"):
        digest, _, user = value.partition(":")
        if not _SHA256_HEX.fullmatch(digest) or (user and not NAME.fullmatch(user)):
            raise SettingsError(f"API_TOKENS: {name} must look like {shape}")
        belongs = (mode == "oidc" and "@" in user) or user in dict(users)
        if user and mode != "none" and not belongs:
            raise SettingsError(f"API_TOKENS: {name} belongs to {user}, who is not in AUTH_USERS")
        tokens.append((name, digest, user.lower() if "@" in user else user or None))
    return tuple(tokens)


def _issuer(source: Mapping[str, Any]) -> str:
    raw = text(source, "OIDC_ISSUER", None)
    if raw is None:
        raise SettingsError("OIDC_ISSUER is required with AUTH=oidc")
    parts = urlsplit(raw)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise SettingsError(f"OIDC_ISSUER must be an http(s) URL, got {raw!r}")
    return raw.rstrip("/")


def _public_url(source: Mapping[str, Any]) -> str | None:
    """PUBLIC_URL: the app's external address, for every absolute URL it makes."""
    raw = text(source, "PUBLIC_URL", None)
    if raw is None:
        return None
    parts = urlsplit(raw)
    if parts.scheme not in {"http", "https"} or not parts.hostname or parts.query or parts.fragment:
        raise SettingsError(f"PUBLIC_URL must look like https://chat.example.com, got {raw!r}")
    return raw.rstrip("/")


def _required(source: Mapping[str, Any], name: str, mode: str) -> str:
    value = text(source, name, None)
    if value is None:
        raise SettingsError(f"{name} is required with AUTH={mode}")
    return value


def load_auth_settings(source: Mapping[str, Any]) -> AuthSettings:
    """AuthSettings from ``source``; with AUTH unset, none (local use, as before)."""
    idle_days = number(source, "SESSION_IDLE_DAYS", 7.0, minimum=0.001)
    return replace(_load_auth_settings(source), session_idle_days=idle_days)


def _load_auth_settings(source: Mapping[str, Any]) -> AuthSettings:
    mode = choice(source, "AUTH", "none", ("none", "password", "oidc"))
    session_days = integer(source, "SESSION_DAYS", 30, minimum=1)
    users = _users(source)
    tokens = _tokens(source, users, mode)
    if mode == "none":
        return AuthSettings(session_days=session_days)
    secret_key = text(source, "SECRET_KEY", None)
    if secret_key is None or len(secret_key) < MIN_SECRET_KEY_CHARS:
        raise SettingsError(
            f"SECRET_KEY must be set, at least {MIN_SECRET_KEY_CHARS} characters, with AUTH={mode}"
            " (python -c 'import secrets; print(secrets.token_urlsafe(48))')"
        )
    if mode == "password":
        return AuthSettings(mode, secret_key, users, tokens, session_days)
    emails = frozenset(e.lower() for e in _listed(source, "OIDC_ALLOWED_EMAILS"))
    domains = frozenset(d.lower().lstrip("@") for d in _listed(source, "OIDC_ALLOWED_DOMAINS"))
    allow_any = boolean(source, "OIDC_ALLOW_ANY_ACCOUNT", False)
    public_url = _public_url(source)
    if public_url is None and text(source, "ALLOWED_HOSTS", None) is None:
        # Else the redirect URI sent to the provider is built from the request's Host.
        raise SettingsError(
            "AUTH=oidc needs PUBLIC_URL (https://chat.example.com) or ALLOWED_HOSTS"
        )
    if not emails and not domains and not allow_any:
        raise SettingsError(
            "AUTH=oidc needs OIDC_ALLOWED_EMAILS or OIDC_ALLOWED_DOMAINS "
            "(or OIDC_ALLOW_ANY_ACCOUNT=true to let in any account of the provider)"
        )
    return AuthSettings(
        mode,
        secret_key,
        users,
        tokens,
        session_days,
        oidc_issuer=_issuer(source),
        oidc_client_id=_required(source, "OIDC_CLIENT_ID", mode),
        oidc_client_secret=_required(source, "OIDC_CLIENT_SECRET", mode),
        oidc_allowed_emails=emails,
        oidc_allowed_domains=domains,
        oidc_allow_any_account=allow_any,
        public_url=public_url,
    )
