"""The per-chunk path: upstream body bytes in, NDJSON lines out, with heartbeats.

Holds the one entry (``pipeline.relay``), the SSE-to-NDJSON generator (``ndjson``), the
per-API payload checks (``protocols``), the seam that picks how a body is read
(``source``) with its fast path (``direct_body``, ``body_framing``, ``socket_reads``)
and its fallback (``fallback``), when heartbeats are due (``write_mark``), the framing
of lines as SSE (``sse``) and the client-gone check (``client_socket``). Everything here
runs for every chunk, so it stays plain: bytes in, bytes out, no Flask, no SDK model
objects.

This is the only place that knows httpx2's and httpcore2's private structure
(``direct_body``); when that structure is not what it expects, ``source`` falls back
to the public API. It imports nothing of streamchat outside this folder. streamchat.runs
(to relay a body), streamchat.web (to frame and deliver it) and the bench import it.
"""
