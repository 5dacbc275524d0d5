"""gunicorn settings for streamchat (used by the Procfile and the tests)."""

import os

bind = f"{os.environ.get('HOST', '0.0.0.0')}:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
worker_class = "gevent"
# Each open stream holds one connection; gevent handles them as greenlets.
worker_connections = int(os.environ.get("WORKER_CONNECTIONS", "1000"))
# Streams are long; the gevent worker is only killed on timeout if its loop is blocked.
timeout = 30
# On SIGTERM open streams get this long to finish; the rest end with an error line just
# before it runs out (post_worker_init below). A 4,096-token reply at 50 tokens/s
# takes ~80 s, so the default leaves room for one.
graceful_timeout = int(os.environ.get("GRACEFUL_TIMEOUT", "90"))
keepalive = 5
# Patching happens in wsgi.py at import; preloading would import it in the master.
preload_app = False
# gunicorn 27 opens a control socket at a fixed path by default; several instances on one
# machine (and the test suite) would fight over it, and nothing here uses it.
control_socket_disable = True
accesslog = "-"
errorlog = "-"


def post_worker_init(worker):
    """Chain streamchat's drain onto the worker's SIGTERM handling."""
    from streamchat.shutdown import drain_on_sigterm

    drain_on_sigterm(worker)
