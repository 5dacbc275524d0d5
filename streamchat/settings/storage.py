"""Where shared counts live: REDIS_URL (the Redis several instances share) and
RATELIMIT_STORAGE_URI (Flask-Limiter's storage, the older name for the same Redis)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .values import SettingsError, text

REDIS_SCHEMES = ("redis", "rediss")


def _scheme(uri: str) -> str:
    return uri.partition("://")[0].lower()


def redis_url(source: Mapping[str, Any]) -> str | None:
    """The shared Redis: RATELIMIT_STORAGE_URI when it names one (the older name, and the
    way to add options such as ``?ssl_cert_reqs=none`` to a URL a platform sets), else
    REDIS_URL, else None (the machine's SQLite file holds the shared counts)."""
    legacy = text(source, "RATELIMIT_STORAGE_URI", None)
    if legacy and _scheme(legacy) in REDIS_SCHEMES:
        return legacy
    value = text(source, "REDIS_URL", None)
    if value is not None:
        if _scheme(value) not in REDIS_SCHEMES or "://" not in value:
            raise SettingsError(
                f"REDIS_URL must look like redis://host:6379 or rediss://..., got {value!r}"
            )
        return value
    return None


def ratelimit_storage_uri(source: Mapping[str, Any], redis: str | None) -> str:
    """Flask-Limiter's storage: RATELIMIT_STORAGE_URI, else the shared Redis, else
    ``memory://`` (each worker counts on its own)."""
    value = text(source, "RATELIMIT_STORAGE_URI", None) or redis or "memory://"
    # The scheme is checked here; whether its client library is installed is checked
    # when the limiter builds its storage (streamchat.web.ratelimit), also at start-up.
    if "://" not in value:
        raise SettingsError(
            f"RATELIMIT_STORAGE_URI must look like memory:// or redis://host:6379, got {value!r}"
        )
    return value
