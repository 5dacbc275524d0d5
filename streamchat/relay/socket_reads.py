"""Reading an upstream socket with heartbeats and a read timeout, under gevent or threads.

streamchat.relay.direct_body hands its socket here. Each reader yields what one read
returned (b"" at the end) or None when a heartbeat is due, timed from the last write
toward the client (streamchat.relay.write_mark); it raises UpstreamReadTimeout when the
upstream has sent nothing for the read timeout.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

from .write_mark import WriteMark

READ_SIZE = 65536


class UpstreamReadTimeout(TimeoutError):
    """The upstream sent nothing for the whole read timeout."""


def is_gevent_socket(sock: socket.socket) -> bool:
    """True for a gevent socket (gunicorn's gevent worker), False for a plain one."""
    return type(sock).__module__.startswith("gevent.")


def read_with_socket_timeout(
    sock: socket.socket, beat: float, limit: float, mark: WriteMark
) -> Iterator[bytes | None]:
    """Threads (``flask run``): a socket timeout up to the next heartbeat or the read
    timeout, whichever is first. Yields what each read returned (b"" at the end) or None
    for a heartbeat."""
    recv, clock = sock.recv, time.monotonic
    last_data = clock()
    while True:
        now = clock()
        until_beat = beat - (now - mark.last)
        if until_beat <= 0:
            mark.last = now
            yield None
            continue
        until_limit = limit - (now - last_data)
        if until_limit <= 1e-9:
            raise UpstreamReadTimeout("the upstream sent nothing in time")
        sock.settimeout(min(until_beat, until_limit))
        try:
            data = recv(READ_SIZE)
        except TimeoutError:
            continue
        last_data = clock()
        yield data
        if not data:
            return


class _HeartbeatDue(Exception):
    """Thrown into a reader blocked in recv when a heartbeat is due."""


class _SilenceWatch:
    """Interrupts a reader when a heartbeat is due or the upstream has been silent too
    long, without a timer per read.

    A socket timeout under gevent costs each read a Timeout object and a timer start and
    stop on every chunk, as much as the rest of the read costs. Here the reader only notes
    when data last came, and the relay when it last wrote (``mark``); one lazy timer per
    stream wakes once per interval, re-arms for the remainder while lines are flowing,
    and throws into the reader only when it is blocked in recv. gevent's own Timeout
    works by the same throw; a socket closed by another greenlet still fails the read
    at once.
    """

    # A reader busy when its heartbeat is due (writing to a slow client, say) is looked
    # at again this soon, rather than a whole interval later.
    _BUSY_RETRY = 0.05

    def __init__(self, beat: float, limit: float, mark: WriteMark) -> None:
        import gevent

        self._loop = gevent.get_hub().loop
        self._reader = gevent.getcurrent()
        self._beat = beat
        self._limit = limit
        self._mark = mark
        self.last_data = time.monotonic()
        self.in_recv = False
        self._timer = None
        self._arm(min(beat, limit))

    def _arm(self, seconds: float) -> None:
        if self._timer is not None:
            self._timer.close()
        self._timer = self._loop.timer(max(seconds, 0.001))
        self._timer.start(self._due)

    def _due(self) -> None:
        now = time.monotonic()
        silent = now - self.last_data
        since_write = now - self._mark.last
        error: Exception | None = None
        if silent >= self._limit - 0.001:
            error = UpstreamReadTimeout("the upstream sent nothing in time")
            wait = self._beat
        elif since_write >= self._beat - 0.001:
            error = _HeartbeatDue()
            wait = min(self._beat, self._limit - silent)
        else:
            wait = min(self._beat - since_write, self._limit - silent)
        if error is not None and not self.in_recv:
            error, wait = None, min(wait, self._BUSY_RETRY)
        self._arm(wait)
        if error is not None:
            self._reader.throw(error)

    def close(self) -> None:
        """Stop the timer; call when the reader is done."""
        if self._timer is not None:
            self._timer.close()
            self._timer = None


def wait_then_recv(sock: socket.socket):
    """gevent's recv, preceded by a wait until the socket is readable, when this gevent
    socket lets us wait on its own read watcher; else gevent's plain recv.

    gevent's recv tries the socket first, gets EAGAIN, waits and tries again. On a token
    stream the first try fails nearly every time (the next chunk is milliseconds away):
    a syscall and an exception per chunk, a fifth of what a read costs (bench/README.md).
    Waiting on the socket's own watcher keeps gevent's behaviour on close: closing the
    socket from another greenlet (Stop, shutdown) fails the wait at once.
    """
    recv = sock.recv
    wait = getattr(sock, "_wait", None)
    if not callable(wait) or not hasattr(sock, "_read_event"):
        return recv
    # TLS: bytes already decrypted and buffered make the socket look idle; never wait
    # while there are any.
    pending = getattr(sock, "pending", None)

    def wait_then_recv(size: int) -> bytes:
        event = sock._read_event  # None once closed: then recv raises EBADF itself
        if event is not None and not (pending is not None and pending()):
            wait(event)
        return recv(size)

    return wait_then_recv


def read_under_gevent(
    sock: socket.socket, beat: float, limit: float, mark: WriteMark
) -> Iterator[bytes | None]:
    """gevent: reads without a timeout, heartbeats from a _SilenceWatch. Yields what each
    read returned (b"" at the end) or None for a heartbeat."""
    recv, clock = wait_then_recv(sock), time.monotonic
    sock.settimeout(None)
    watch = _SilenceWatch(beat, limit, mark)
    try:
        while True:
            watch.in_recv = True
            try:
                data = recv(READ_SIZE)
            except _HeartbeatDue:
                # Out of recv before yielding: the heartbeat's write may block too, and
                # must not be interrupted (finally would only run after the yield).
                watch.in_recv = False
                mark.last = clock()
                yield None
                continue
            finally:
                watch.in_recv = False
            watch.last_data = clock()
            yield data
            if not data:
                return
    finally:
        watch.close()
