"""The web side: everything that knows about Flask requests and responses.

Holds the routes (``page``, ``api``, ``health``), request validation (``validation``,
``content_parts`` for text and image parts), error handlers (``errors``), the
same-origin check (``origin``), security headers (``headers``), rate limits
(``ratelimit``) and the JSON request log (``requestlog``).

It may import every other layer of streamchat; only app.py (wiring) and tests import
it. The views stay thin: each step of a request is a call into the layer that owns it.
"""
