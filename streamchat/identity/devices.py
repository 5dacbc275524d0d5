"""Device cookies (OWASP's "slow down online guessing attacks with device cookies"): a
browser that signed in as a user gets a signed cookie naming that user and a random
nonce. Its later sign-ins as that user are throttled on their own (per device,
streamchat.identity.throttle), so wrong passwords sent for the user from anywhere else
cannot lock out the browser the user signs in with.

The cookie holds the user name, the nonce and a signature (itsdangerous, ``SECRET_KEY``,
its own salt, with the time it was made): nothing secret but the nonce, and nothing the
server has to store. It is only sent to ``/login``.
"""

from __future__ import annotations

import secrets

from itsdangerous import BadSignature, URLSafeTimedSerializer

DEVICE_COOKIE = "streamchat_device"
DEVICE_COOKIE_PATH = "/login"  # the only route that reads it
DEVICE_DAYS = 365
_SALT = "streamchat.device-cookie"
_NONCE_BYTES = 18


class DeviceCookies:
    """Makes and checks device cookies with the app's secret key (and its fallbacks, so
    rotating SECRET_KEY keeps devices known while the old key is listed)."""

    def __init__(self, secret_key: str, fallbacks: tuple[str, ...] = ()) -> None:
        # itsdangerous signs with the last key and accepts any of them.
        self._serializer = URLSafeTimedSerializer([*fallbacks, secret_key], salt=_SALT)

    def new(self, name: str) -> str:
        """A new device cookie's value for a browser that just signed in as ``name``."""
        return self._serializer.dumps([name, secrets.token_urlsafe(_NONCE_BYTES)])

    def device(self, cookie: str | None, name: str) -> str | None:
        """The device's nonce when ``cookie`` is a valid, unexpired device cookie made
        for ``name``; None otherwise (no cookie, forged, too old, another user's)."""
        if not cookie:
            return None
        try:
            value = self._serializer.loads(cookie, max_age=DEVICE_DAYS * 86400)
        except BadSignature:  # also SignatureExpired, a subclass
            return None
        if not (isinstance(value, list) and len(value) == 2):
            return None
        owner, nonce = value
        if owner != name or not isinstance(nonce, str) or not nonce:
            return None
        return nonce
