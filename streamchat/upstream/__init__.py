"""The upstream side: the OpenAI SDK client and what it talks to.

Holds the client built once per app (``client``), its connection pools (``pools``),
opening streamed requests and the open response (``streams``), the answers for
refusals before a stream starts (``refusals``), the readiness check (``readiness``),
the built-in offline demo model (``demo``, its streamed bodies in ``demo_streams``), the
fields asked of reasoning models (``reasoning``) and Microsoft Entra ID tokens for Azure
OpenAI without a key (``azure``).

It may import streamchat.settings, streamchat.errors and streamchat.relay (to read a
body). streamchat.web, streamchat.runtime and app.py import it; it imports no Flask.
"""
