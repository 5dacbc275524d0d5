"""Per-client rate limits on the chat endpoints (Flask-Limiter), answered in our JSON shape."""

from __future__ import annotations

import ipaddress
import math
import time

from flask import Blueprint, Flask
from flask_limiter import Limiter, RequestLimit
from flask_limiter.util import get_remote_address
from limits.errors import ConfigurationError

from ..errors import ApiError
from ..identity import current_identity
from ..settings import Settings, SettingsError
from .errors import json_error


def _too_many_requests(limit: RequestLimit):
    retry_after = max(1, math.ceil(limit.reset_at - time.time()))
    return json_error(
        ApiError(
            429,
            f"Too many requests. Try again in {retry_after} seconds.",
            "rate_limit_error",
            "rate_limited",
            retry_after=retry_after,
        )
    )


def client_key() -> str:
    """Who a limit counts against: the signed-in user (or token), else the address."""
    identity = current_identity()
    if identity is not None:
        return f"user:{identity.id}"
    return client_address()


def client_address() -> str:
    """The client address, an IPv6 client by its /64 (an IPv4-mapped one by its IPv4).

    One IPv6 subscriber is handed a whole /64 (2^64 addresses), so counting full
    addresses would give such a client as many buckets as it likes.
    """
    address = get_remote_address()
    if ":" not in address:
        return address
    try:
        parsed = ipaddress.IPv6Address(address)
    except ValueError:
        return address  # not an address we can parse (a test client's name, say)
    if parsed.ipv4_mapped:
        # An IPv4 client seen through a dual-stack socket (HOST=::): its /64 would be
        # ::/64, one bucket for every IPv4 client. It is its IPv4 address.
        return str(parsed.ipv4_mapped)
    return str(ipaddress.IPv6Network(f"{parsed}/64", strict=False))


def install_rate_limits(
    app: Flask, settings: Settings, api: Blueprint, conversations: Blueprint
) -> Limiter | None:
    """Limit every route of ``api`` to ``RATE_LIMIT`` per user, else per client address,
    and the routes of ``conversations`` to as many again, counted on their own (a page
    that reads its conversations must not spend what its replies need).

    The address is ``request.remote_addr``: the peer, or what ProxyFix trusted from
    ``TRUSTED_PROXY_COUNT`` proxies, never a header a client can simply set
    (``client_key``).
    """
    if not settings.rate_limit:
        return None
    try:
        limiter = Limiter(
            client_key,
            app=app,
            storage_uri=settings.ratelimit_storage_uri,
            strategy="fixed-window",
            # If Redis goes away, keep serving: count in this worker's memory meanwhile
            # (logged) rather than fail every chat request.
            swallow_errors=True,
            in_memory_fallback_enabled=True,
        )
    except ConfigurationError as exc:
        raise SettingsError(f"RATELIMIT_STORAGE_URI is not usable: {exc}") from None
    # One budget for the whole API, whichever endpoint a client calls.
    limiter.shared_limit(settings.rate_limit, scope="api", on_breach=_too_many_requests)(api)
    limiter.shared_limit(settings.rate_limit, scope="conversations", on_breach=_too_many_requests)(
        conversations
    )
    return limiter
