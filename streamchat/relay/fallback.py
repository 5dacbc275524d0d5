"""Reads the upstream body in the background so the relay can send heartbeats.

The relay needs "a chunk, or word that nothing came for N seconds". A blocking read
cannot say the second, so a helper thread (a greenlet under gevent's monkey-patching,
a real thread under ``flask run``) reads and hands chunks over a queue.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator

_END = object()


class _Failure:
    __slots__ = ("exc",)

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


def with_heartbeats(chunks: Iterable[bytes], interval: float) -> Iterator[bytes | None]:
    """Yield each chunk of ``chunks`` as it arrives, and ``None`` after ``interval``
    seconds without one. Exceptions from ``chunks`` are re-raised here.

    Closing the upstream (which makes the reader's next read fail) is the caller's job;
    the reader then ends by itself.
    """
    handoff: queue.SimpleQueue = queue.SimpleQueue()

    def read_all() -> None:
        try:
            for chunk in chunks:
                if chunk:
                    handoff.put(chunk)
        except Exception as exc:  # handed over: the consumer turns it into the error line
            handoff.put(_Failure(exc))
            return
        except BaseException:
            # Killed (interpreter or worker shutting down): the consumer must not wait on.
            handoff.put(_Failure(ConnectionAbortedError("upstream reader stopped")))
            raise
        handoff.put(_END)

    threading.Thread(target=read_all, name="upstream-reader", daemon=True).start()
    while True:
        try:
            item = handoff.get(timeout=interval)
        except queue.Empty:
            yield None
            continue
        if item is _END:
            return
        if isinstance(item, _Failure):
            raise item.exc
        yield item
