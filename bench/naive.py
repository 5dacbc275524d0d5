"""The baseline: the streaming relay a typical tutorial writes.

The SDK parses every upstream event into a ChatCompletionChunk model and the route
serialises it back to JSON: two conversions per token that the app's byte relay skips.
Run by bench.servers as ``gunicorn -k gevent -w 1 ... bench.naive:app``; gunicorn's
gevent worker monkey-patches before it imports this module.
"""

from __future__ import annotations

import os

import openai
from flask import Flask, Response, request, stream_with_context

app = Flask(__name__)
client = openai.OpenAI(base_url=os.environ["OPENAI_BASE_URL"], api_key=os.environ["OPENAI_API_KEY"])
MODEL = os.environ.get("OPENAI_MODEL", "bench-model")


@app.post("/api/chat")
def chat():
    """Stream the reply as NDJSON: each chunk re-serialised by the SDK's model."""
    messages = request.get_json()["messages"]
    stream = client.chat.completions.create(model=MODEL, messages=messages, stream=True)

    def generate():
        try:
            for chunk in stream:
                yield chunk.model_dump_json() + "\n"
        finally:
            stream.close()

    return Response(stream_with_context(generate()), mimetype="application/x-ndjson")
