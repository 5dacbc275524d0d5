"""Whether the upstream answers: what /readyz reports, asked at most once per TTL."""

from __future__ import annotations

import threading
import time

import openai


class ReadinessCheck:
    """Asks the upstream whether it answers, at most once per ``ttl`` seconds."""

    def __init__(self, client: openai.OpenAI, demo: bool, timeout: float, ttl: float) -> None:
        self._client = client
        self._demo = demo
        self._timeout = timeout
        self._ttl = ttl
        self._lock = threading.Lock()
        self._checked_at = float("-inf")
        self._reason: str | None = None

    def reason_not_ready(self) -> str | None:
        """None when the upstream answers; else a short reason code (cached)."""
        if self._demo:
            return None  # the demo model is in-process: nothing to reach
        with self._lock:  # one check at a time; others wait and share its answer
            if time.monotonic() - self._checked_at >= self._ttl:
                self._reason = self._ask_upstream()
                self._checked_at = time.monotonic()
            return self._reason

    def _ask_upstream(self) -> str | None:
        client = self._client.with_options(timeout=self._timeout, max_retries=0)
        try:
            # The raw response: any answer proves the upstream is there, and we need
            # not parse a model list that some compatible servers shape differently.
            client.models.with_raw_response.list()
        except (openai.AuthenticationError, openai.PermissionDeniedError):
            return "upstream_auth"
        except openai.APIStatusError:
            return None  # it answered (e.g. 404: no /models on this server)
        except openai.APIError:
            return "upstream_unreachable"
        return None
