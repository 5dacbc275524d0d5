"""Metrics for operators: what Prometheus scrapes, counting every gunicorn worker.

Holds the collectors (``collectors``: streams, open streams, time to first byte,
duration, tokens, refusals), prometheus_client's multiprocess set-up that
gunicorn.conf.py calls in the master (``multiprocess``), and the token-guarded
``/metrics`` route (``endpoint``). It may import settings and runtime; app.py and
streamchat.web import it. It counts per stream, never per chunk, and puts no message
content, user names or keys in a label.
"""
