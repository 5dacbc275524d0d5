"""Opens a streamed request upstream through the SDK, and holds the open response until
it is closed, however the stream ends.

The run (streamchat.runs) opens one with ``open_stream`` and hands its response to the
relay (streamchat.relay), the only code that reads the body.
"""

from __future__ import annotations

import httpx2
import openai

from .refusals import UpstreamRefused, from_upstream_exception

CHAT_COMPLETIONS_PATH = "/chat/completions"
RESPONSES_PATH = "/responses"


class UpstreamStream:
    """An open streamed upstream response, and a way to close it."""

    def __init__(self, response: httpx2.Response) -> None:
        self.response = response
        self.closed = False

    def close(self) -> None:
        """Close the upstream connection; safe to call more than once, from anywhere."""
        if not self.closed:
            self.closed = True
            self.response.close()


def open_stream(client: openai.OpenAI, path: str, body: dict, images: int = 0) -> UpstreamStream:
    """POST ``body`` (carrying ``images`` images) to ``path`` with streaming on and return
    the open, unread response; UpstreamRefused when no stream starts.

    ``client.post`` with ``cast_to=httpx2.Response`` is the SDK's documented way to send a
    request it need not model: it still authenticates, retries the connect and turns
    error statuses into exceptions, but skips ``create()``'s walk of every message
    through the typed-dict transform (milliseconds per request on a long conversation),
    since ``validate_chat_request`` has already made the body plain JSON.
    """
    try:
        response = client.post(
            path, cast_to=httpx2.Response, body=body, stream=True, stream_cls=openai.Stream
        )
    except openai.APIError as exc:
        raise from_upstream_exception(exc, body["model"], images) from None
    content_type = response.headers.get("content-type", "")
    encoding = response.headers.get("content-encoding", "identity").strip().lower()
    # The client asks for identity (streamchat.upstream.client). An encoded body is
    # refused rather than inflated: a few KB of gzip can decode to hundreds of MB.
    if not content_type.startswith("text/event-stream") or encoding != "identity":
        response.close()
        raise UpstreamRefused("bad_response", body["model"])
    return UpstreamStream(response)
