"""Room for metrics: what Prometheus scrapes from every gunicorn worker.

Empty until the production-edges issue lands. What goes here: prometheus_client
collectors in multiprocess mode and the token-guarded /metrics route. It may import
settings and runtime; streamchat.web and app.py import it. It counts per stream, never
per chunk, and puts no message content, user names or keys in a label.
"""
