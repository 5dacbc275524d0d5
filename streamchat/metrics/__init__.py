"""Metrics for operators: what Prometheus scrapes, counting every gunicorn worker.

Holds the collectors (``collectors``: streams, open streams, time to first byte,
duration, tokens, refusals) and prometheus_client's multiprocess set-up that
gunicorn.conf.py calls in the master (``multiprocess``); the token-guarded ``/metrics``
route is streamchat.web.metrics_endpoint. It imports nothing of streamchat; runtime,
web, app.py and gunicorn.conf.py import it. It counts per stream, never per chunk, and
puts no message content, user names or keys in a label.
"""
