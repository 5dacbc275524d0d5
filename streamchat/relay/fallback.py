"""The fallback reader: the public ``iter_bytes()`` in a helper, so the relay gets heartbeats.

The relay needs "a chunk, or word that a heartbeat is due". A blocking read cannot say
the second, so a helper thread (a greenlet under gevent's monkey-patching, a real thread
under ``flask run``) reads and hands chunks over a bounded queue: when the client reads
slower than the upstream sends, the helper waits instead of holding the whole reply.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterable, Iterator

from .write_mark import WriteMark

_END = object()
# Chunks held between the helper and the relay: iter_bytes() yields up to 64 KiB each,
# so at most a few MiB per stream, whatever the upstream sends.
MAX_QUEUED_CHUNKS = 32
# How often a helper blocked on a full queue checks that the relay still wants chunks.
_PUT_POLL_SECONDS = 0.5


class _Failure:
    __slots__ = ("exc",)

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


def with_heartbeats(
    chunks: Iterable[bytes], interval: float, mark: WriteMark | None = None
) -> Iterator[bytes | None]:
    """Yield each chunk of ``chunks`` as it arrives, and ``None`` whenever ``interval``
    seconds have passed since ``mark`` (the last write toward the client). Exceptions
    from ``chunks`` are re-raised here.

    Closing the upstream (which makes the reader's next read fail) is the caller's job;
    the reader then ends by itself, also when the queue is full and nobody reads it.
    """
    if mark is None:
        mark = WriteMark()
    handoff: queue.Queue = queue.Queue(maxsize=MAX_QUEUED_CHUNKS)
    stopped = threading.Event()

    def hand_over(item: object) -> None:
        while not stopped.is_set():
            try:
                handoff.put(item, timeout=_PUT_POLL_SECONDS)
                return
            except queue.Full:
                continue

    def read_all() -> None:
        try:
            for chunk in chunks:
                if chunk:
                    hand_over(chunk)
                if stopped.is_set():
                    return
        except Exception as exc:  # handed over: the consumer turns it into the error line
            hand_over(_Failure(exc))
            return
        except BaseException:
            # Killed (interpreter or worker shutting down): the consumer must not wait on.
            hand_over(_Failure(ConnectionAbortedError("upstream reader stopped")))
            raise
        hand_over(_END)

    threading.Thread(target=read_all, name="upstream-reader", daemon=True).start()
    clock = time.monotonic
    try:
        while True:
            wait = interval - (clock() - mark.last)
            if wait <= 0:
                mark.last = clock()
                yield None
                continue
            try:
                item = handoff.get(timeout=wait)
            except queue.Empty:
                continue
            if item is _END:
                return
            if isinstance(item, _Failure):
                raise item.exc
            yield item
    finally:
        stopped.set()
