"""Refuses cross-site POSTs from browsers: someone else's page must not spend our key.

Browsers say where a request comes from (``Origin``, ``Sec-Fetch-Site``); requests
without those headers (curl, an SDK on a server) are not from a browser page and pass.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import request

from ..errors import ApiError

_FROM_OUR_PAGE = {"same-origin", "none"}  # "none": typed in the address bar, a bookmark


def _cross_site() -> ApiError:
    return ApiError(
        403,
        "Requests from other sites are not accepted.",
        "invalid_request_error",
        "cross_site_request",
    )


def check_same_origin(allowed_origins: tuple[str, ...]) -> None:
    """Raise a 403 ApiError when a browser sent this request from another site."""
    origin = request.headers.get("Origin")
    site = request.headers.get("Sec-Fetch-Site")
    if origin == "null" and site == "same-origin":
        # Our own page's form posts: under Referrer-Policy no-referrer the browser sends
        # "Origin: null", and Sec-Fetch-Site (which a page cannot set) says where from.
        return
    if origin is not None:
        if origin.rstrip("/") in allowed_origins:
            return
        # Host only, not scheme: behind a TLS-terminating proxy we see http while the
        # browser's origin says https, and that is still our own page.
        netloc = urlsplit(origin).netloc.lower()
        if origin == "null" or not netloc or netloc != request.host.lower():
            raise _cross_site()
        return
    if site is not None and site not in _FROM_OUR_PAGE:
        raise _cross_site()
