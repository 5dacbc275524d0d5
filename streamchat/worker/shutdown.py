"""Graceful shutdown under gunicorn: on SIGTERM, take no new streams, let open ones
finish within the grace period, and end the rest with an error line just before it
runs out, instead of letting the connection be cut.

Called from gunicorn.conf.py's ``post_worker_init`` hook; gevent workers only.
"""

from __future__ import annotations

import logging
import signal
import time

import gevent

from .open_streams import OpenStreams

log = logging.getLogger("streamchat.shutdown")


def margin_for(grace: float) -> float:
    """How long before the end of the grace period the remaining streams are ended:
    enough to write their last line and close before gunicorn kills the worker."""
    return max(1.0, min(5.0, grace / 10))


def drain(streams, grace: float) -> None:
    """Refuse new streams now; end the open ones ``margin_for(grace)`` before ``grace``."""
    streams.draining = True
    log.info("shutting down: %d open streams get up to %.0f s", len(streams), grace)
    # A stream nobody reads (a run in its grace period) keeps no connection open, and
    # gunicorn stops the worker as soon as its connections are done: end those now, so
    # they settle what they spent before the worker goes.
    unread = streams.end_unread()
    if unread:
        log.info("shutting down: %d streams nobody was reading ended", unread)
    time.sleep(max(0.0, grace - margin_for(grace)))
    ended = streams.end_all()
    if ended:
        log.warning("grace period ending: %d streams ended with an error line", ended)


def drain_on_sigterm(worker, streams: OpenStreams) -> None:
    """Chain the drain of ``streams`` (the worker app's) onto the gunicorn worker's own
    SIGTERM handler."""
    grace = float(worker.cfg.graceful_timeout)
    gunicorn_handler = signal.getsignal(signal.SIGTERM)

    def on_sigterm(signum, frame):
        gunicorn_handler(signum, frame)  # stops accepting connections
        if streams.draining:
            return  # a second SIGTERM (the master's and a direct one): already draining
        # The handler runs as a gevent hub callback, which must not block (starting a
        # thread would): the wait runs in a greenlet of its own, as gunicorn does.
        gevent.spawn(drain, streams, grace)

    signal.signal(signal.SIGTERM, on_sigterm)
    signal.siginterrupt(signal.SIGTERM, False)  # as gunicorn has it: don't break syscalls
