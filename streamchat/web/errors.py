"""Error handlers: every error leaves as the JSON shape (docs/architecture.md, "Wire
protocol"), never a traceback or an HTML page."""

from __future__ import annotations

import logging

from flask import Flask, g, jsonify, request
from werkzeug.exceptions import HTTPException

from ..errors import ApiError
from ..runtime import current_runtime


def json_error(error: ApiError):
    """The response for ``error``: JSON body, status, Retry-After; noted in the request log."""
    record = g.get("request_record")
    if record is not None:
        record.error_code = error.code
    metrics = current_runtime().metrics
    if metrics is not None and request.path.startswith("/api/"):
        metrics.request_rejected(error.code)
    response = jsonify(error.body())
    response.status_code = error.status
    if error.retry_after is not None:
        response.headers["Retry-After"] = str(error.retry_after)
    response.headers.update(error.headers or {})
    return response


def install_error_handlers(app: Flask) -> None:
    """Answer ApiError, HTTP errors (404, 405, 413, ...) and crashes with JSON."""

    @app.errorhandler(ApiError)
    def handle_api_error(error: ApiError):
        return json_error(error)

    @app.errorhandler(HTTPException)
    def handle_http_error(error: HTTPException):
        if error.response is not None:
            return error.response  # built already, e.g. the rate limiter's 429
        code = (error.name or "error").lower().replace(" ", "_")
        message = {
            413: "The request body is too large.",
            404: "There is nothing at this address.",
            405: "This address does not accept that method.",
        }.get(error.code, error.description or error.name)
        response = json_error(ApiError(error.code or 500, message, "invalid_request_error", code))
        if error.code == 405:
            response.headers["Allow"] = ", ".join(error.valid_methods or [])
        return response

    @app.errorhandler(Exception)
    def handle_crash(error: Exception):
        logging.getLogger("streamchat.errors").exception("unhandled error")
        return json_error(
            ApiError(500, "Something went wrong on the server.", "server_error", "internal_error")
        )
