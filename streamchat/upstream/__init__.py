"""The upstream side: the OpenAI SDK client and what it talks to.

Holds the client built once per app (``client``), its connection pools (``pools``),
the request sent (``request``: ChatRequest and each API's body), opening streamed
requests and holding the open response (``streams``), what a refusal before a stream
starts means (``refusals``: UpstreamRefused), the readiness check (``readiness``) and
the built-in offline demo model (``demo``).

It may import streamchat.settings and streamchat.errors; it imports no Flask and does not
read bodies (streamchat.relay does). streamchat.runs, runtime, web and app.py import it.
"""
