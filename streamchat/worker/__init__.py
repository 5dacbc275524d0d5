"""This worker process: its open streams and graceful shutdown.

``open_streams`` counts the streams one worker relays and says when it is full;
``shutdown`` is called from gunicorn.conf.py's worker hook to drain them on SIGTERM.
It imports nothing of streamchat. streamchat.runs, runtime, web and gunicorn.conf.py
import it.
"""
