"""The upstream side: the OpenAI SDK client and what it talks to.

Holds the client built once per app (``client``), its connection pools (``pools``),
the request sent (``request``: ChatRequest and each API's body, with the fields asked
of reasoning models from ``reasoning``), opening streamed requests and holding the open
response (``streams``), what a refusal before a stream starts means (``refusals``:
UpstreamRefused), the readiness check (``readiness``), the built-in offline demo model
(``demo``, its streamed bodies in ``demo_streams``) and Microsoft Entra ID tokens for
Azure OpenAI without a key (``azure``).

It may import streamchat.settings and streamchat.errors; it imports no Flask and does not
read bodies (streamchat.relay does). streamchat.runs, runtime, web and app.py import it.
"""
