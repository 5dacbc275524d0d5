"""This worker process: its open streams (admission control) and graceful shutdown.

``admission`` counts the streams one worker relays and refuses past the limit;
``shutdown`` is called from gunicorn.conf.py's worker hook to drain them on SIGTERM.
``admission`` imports nothing of streamchat; ``shutdown`` imports streamchat.runtime.
streamchat.web, streamchat.runtime and gunicorn.conf.py import this package.
"""
