"""Who can sign in: the password users and API tokens from the settings, checked in
constant time with respect to whether a name exists.

One ``Identity`` per person or program; its ``id`` is what the session stores, what
rate limits and budgets key on, and (as ``name``) what the request log shows.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from functools import cache

from werkzeug.security import check_password_hash, generate_password_hash

OIDC_PREFIX = "oidc:"  # an OpenID identity's id: the prefix and the verified email
TOKEN_PREFIX = "sc_"  # recognisable in a leak report or a secret scanner
TOKEN_BYTES = 32
MIN_PASSWORD_CHARS = 12


@dataclass(frozen=True)
class Identity:
    """A signed-in person (``password``, ``oidc``) or program (``token``). Flask-Login's
    user: ``get_id`` is what the session cookie carries."""

    id: str
    name: str
    kind: str

    is_authenticated = True
    is_active = True
    is_anonymous = False

    def get_id(self) -> str:
        return self.id

    @property
    def owner(self) -> str:
        """Whose conversations, runs and sessions these are: the same across password
        changes (``id`` is not: a new password ends the old cookies)."""
        return f"user:{self.name}" if self.kind == "password" else self.id


def hash_password(password: str) -> str:
    """werkzeug's scrypt hash, as AUTH_USERS holds it."""
    return generate_password_hash(password, method="scrypt")


def token_digest(token: str) -> str:
    """The sha256 hex API_TOKENS holds for ``token``."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def new_token() -> str:
    """A new API token: the prefix and 32 random bytes."""
    return TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)


@cache
def _dummy_hash() -> str:
    # Checked against when the name is unknown, so an unknown name costs one scrypt too.
    return hash_password(secrets.token_urlsafe(16))


def _session_id(name: str, hashed: str) -> str:
    # Carries a fingerprint of the hash: setting a new password ends the old sessions.
    return f"pw:{name}:{hashlib.sha256(hashed.encode()).hexdigest()[:16]}"


class Accounts:
    """The users and tokens one app serves, indexed once at start-up."""

    def __init__(
        self,
        users: tuple[tuple[str, str], ...],
        tokens: tuple[tuple[str, str, str | None], ...],
    ):
        self._hashes = dict(users)
        self._by_session = {
            _session_id(name, hashed): Identity(_session_id(name, hashed), name, "password")
            for name, hashed in users
        }
        self._by_digest = {
            digest: self._token_identity(name, user) for name, digest, user in tokens
        }
        if users:
            _dummy_hash()  # made now, not on the first sign-in of an unknown name

    def _token_identity(self, name: str, user: str | None) -> Identity:
        """A token's identity: the user it belongs to (the very identity their password
        session has, so one budget, one set of runs and conversations), else its own."""
        if user is None:
            return Identity(f"token:{name}", f"token:{name}", "token")
        if user in self._hashes:
            return self._by_session[_session_id(user, self._hashes[user])]
        return Identity(OIDC_PREFIX + user, user, "oidc")  # settings checked: AUTH=oidc

    def check_password(self, name: str, password: str) -> Identity | None:
        """The user when ``password`` is theirs; the same work whether ``name`` exists."""
        hashed = self._hashes.get(name)
        matches = check_password_hash(hashed or _dummy_hash(), password)
        if hashed is None or not matches:
            return None
        return self._by_session[_session_id(name, hashed)]

    def has_user(self, name: str) -> bool:
        """Whether ``name`` is a password user's name (for the audit trail: any other
        text typed as a name, a password say, is never logged)."""
        return name in self._hashes

    def from_session(self, session_id: str) -> Identity | None:
        """The user a session cookie names, if they (and that password) still exist."""
        return self._by_session.get(session_id)

    def from_token(self, token: str) -> Identity | None:
        """The program whose token this is: looked up by its sha256, never stored itself."""
        digest = token_digest(token)
        for known, identity in self._by_digest.items():
            if hmac.compare_digest(known, digest):
                return identity
        return None
