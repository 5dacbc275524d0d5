"""This worker process: its open streams, the request bodies it reads, and graceful
shutdown.

``open_streams`` counts the streams one worker relays and says when it is full;
``body_bytes`` counts the request body bytes it reads at once (MAX_BODY_BYTES_IN_FLIGHT);
``shutdown`` is called from gunicorn.conf.py's worker hook to drain them on SIGTERM.
It imports nothing of streamchat. streamchat.runs, runtime, web and gunicorn.conf.py
import it.
"""
