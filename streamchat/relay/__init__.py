"""The per-chunk path: upstream body bytes in, NDJSON lines out, with heartbeats.

Holds the relay generator (``ndjson``), the per-API payload checks (``protocols``), the
seam that picks how a body is read (``source``) with its fast path (``direct_body``,
``body_framing``, ``socket_reads``) and its fallback (``fallback``), when heartbeats
are due (``pacing``), and the client-gone check (``client_socket``). Everything here
runs for every chunk, so it stays plain: bytes in, bytes out, no Flask, no SDK model
objects.

This is the only place that knows httpx2's and httpcore2's private structure
(``direct_body``); when that structure is not what it expects, ``source`` falls back
to the public API. It imports nothing of streamchat outside this folder. streamchat.upstream
(to read a response body) and streamchat.web (to relay it) import it.
"""
