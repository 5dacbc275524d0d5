"""An in-process SDK transport that keeps what the app sent upstream."""

from __future__ import annotations

from collections.abc import Callable

import httpx2


class RecordingTransport(httpx2.MockTransport):
    """A MockTransport that keeps the requests the SDK sent."""

    def __init__(self, handler: Callable[[httpx2.Request], httpx2.Response]) -> None:
        self.requests: list[httpx2.Request] = []

        def record(request: httpx2.Request) -> httpx2.Response:
            request.read()
            self.requests.append(request)
            return handler(request)

        super().__init__(record)
