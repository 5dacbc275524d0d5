"""The session cookie: Flask's signed cookie (itsdangerous, ``SECRET_KEY``, HMAC-SHA1
over the "cookie-session" salt, exactly the bytes Flask signs), with the work per request
cut to what checking it needs (what sign-in costs per request: bench/README.md).

- The payload is plain JSON. What goes in is strings, numbers, booleans and dicts
  (Flask-Login's user id and flags, Authlib's OpenID state, nonce and PKCE verifier), so
  Flask's tagged JSON, which walks every value on the way in and out, buys nothing.
- One serializer and one signer per app, the signing key derived once: Flask builds a
  new serializer, a new signer and two HMACs for every request.
- The digest is named ("sha1") rather than passed as a function, so ``hmac`` runs in
  OpenSSL instead of in Python; the signature is the same.
- The expiry (``PERMANENT_SESSION_LIFETIME``, from ``SESSION_DAYS``) is still checked on
  the server against the signed timestamp, on every request.
"""

from __future__ import annotations

import json

from flask import Flask, request
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from itsdangerous.encoding import base64_encode
from itsdangerous.serializer import Serializer

_SERIALIZER = "streamchat.session_serializer"


class PlainJSON:
    """The session payload as compact JSON; a value JSON cannot hold fails loudly when
    the session is saved rather than coming back as something else."""

    @staticmethod
    def dumps(value: object) -> str:
        """The session as compact JSON."""
        return json.dumps(value, separators=(",", ":"))

    @staticmethod
    def loads(value: str | bytes) -> object:
        """The session from JSON (only ever called on a payload whose signature held)."""
        return json.loads(value)


class _Signer(TimestampSigner):
    """itsdangerous's timestamp signer with the derived key kept: deriving it is an HMAC
    of the secret and the salt, the same on every call."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._derived: dict[object, bytes] = {}

    def derive_key(self, secret_key: str | bytes | None = None) -> bytes:
        """The signing key for ``secret_key`` (default: the current one), made once."""
        key = self._derived.get(secret_key)
        if key is None:
            key = self._derived[secret_key] = super().derive_key(secret_key)
        return key


class _Serializer(URLSafeTimedSerializer):
    """One signer for the session's salt, made on first use and kept."""

    default_signer = _Signer

    def make_signer(self, salt: str | bytes | None = None) -> TimestampSigner:
        """The kept signer for the session's salt; a new one for any other."""
        if salt is not None and salt != self.salt:
            return super().make_signer(salt)
        signer = self.__dict__.get("_signer")
        if signer is None:
            signer = self._signer = super().make_signer()
        return signer

    def dump_payload(self, obj) -> bytes:
        """The payload as URL-safe base64 of its JSON, never compressed: itsdangerous
        compresses when that is shorter, which a random session id sometimes makes it,
        so a cookie's shape would change from one sign-in to the next (and compressing
        what a response carries is a length side channel). Loading still takes both."""
        return base64_encode(Serializer.dump_payload(self, obj))

    def loads(self, s, max_age=None, return_timestamp=False, salt=None):
        """The payload, after the signature and ``max_age`` checks; without asking the
        signer for the time it was signed as a datetime, which is then thrown away."""
        if return_timestamp or self.fallback_signers:
            return super().loads(s, max_age, return_timestamp, salt)
        return self.load_payload(self.make_signer(salt).unsign(s, max_age=max_age))


class SessionCookies(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, cheaper to check (see the module docstring).

    Secure when the request came over HTTPS (behind TRUSTED_PROXY_COUNT proxies, ProxyFix
    has set the scheme from X-Forwarded-Proto), so plain local HTTP works."""

    serializer = PlainJSON()
    digest_method = "sha1"

    def get_cookie_secure(self, app: Flask) -> bool:
        """Secure exactly when this request came over HTTPS."""
        return request.is_secure

    def save_session(self, app: Flask, session, response) -> None:
        """Flask's, with its ``Vary: Cookie`` (a response that read the session depends
        on the cookie) written straight into the headers when there is no Vary yet:
        Flask's ``response.vary.add`` parses the header into a set and writes it back on
        every signed-in response."""
        if session.accessed and "Vary" not in response.headers:
            response.headers["Vary"] = "Cookie"
            session.accessed = False  # the Vary is done; the session is not used again
        super().save_session(app, session, response)

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        """One serializer per app: SECRET_KEY (and its fallbacks) do not change while the
        app runs."""
        serializer = app.extensions.get(_SERIALIZER)
        if serializer is None and app.secret_key:
            fallbacks = app.config.get("SECRET_KEY_FALLBACKS") or []
            keys = [*fallbacks, app.secret_key]  # itsdangerous wants the current key last
            serializer = app.extensions[_SERIALIZER] = _Serializer(
                keys,
                salt=self.salt,
                serializer=self.serializer,
                signer_kwargs={
                    "key_derivation": self.key_derivation,
                    "digest_method": self.digest_method,
                },
            )
        return serializer
