"""gunicorn settings for streamchat: used by the Procfile, scripts/serve and the tests.

Every value comes from the environment with a default that suits a Heroku-style
platform; see the README's configuration table.
"""

import os

from dotenv import load_dotenv

from streamchat.settings import DEFAULT_MAX_STREAMS_PER_WORKER

# The master reads this file before any worker imports wsgi.py, so a .env beside the code
# (development; real environment variables win) must be read here for PORT, workers and
# connections to follow it. The workers inherit what it sets.
load_dotenv(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".env"), override=False)

# Heroku-style conventions: the platform sets PORT and WEB_CONCURRENCY.
bind = f"{os.environ.get('HOST', '0.0.0.0')}:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))

# Streams are long-lived and mostly waiting on the network: gevent runs each connection
# as a greenlet, so one worker holds many.
worker_class = "gevent"


def _max_streams() -> int:
    # The app validates MAX_STREAMS_PER_WORKER and stops with a clear message if it is
    # malformed; here a bad value only falls back to the default.
    try:
        return max(1, int(os.environ.get("MAX_STREAMS_PER_WORKER", "")))
    except ValueError:
        return DEFAULT_MAX_STREAMS_PER_WORKER


# Past MAX_STREAMS_PER_WORKER the app answers 503 at once, but only to connections the
# worker has accepted: past worker_connections they would wait unanswered in the listen
# queue. So by default a worker accepts twice its stream limit, and at least 1,000.
# Open connections per worker, streams included.
worker_connections = int(os.environ.get("WORKER_CONNECTIONS") or max(1000, 2 * _max_streams()))

# gevent workers are only killed on timeout when their event loop is blocked, so this
# does not limit stream length; it catches a wedged worker.
timeout = 30
# On SIGTERM open streams get this long to finish; the rest end with an error line just
# before it runs out (post_worker_init below). A 4,096-token reply at 50 tokens/s takes
# ~80 s, so the default leaves room for one.
graceful_timeout = int(os.environ.get("GRACEFUL_TIMEOUT", "90"))
keepalive = 5

# Patching happens in wsgi.py at import; preloading would import it in the master,
# before the workers fork, and gevent's patching must happen in each worker.
preload_app = False

# Which proxies may set X-Forwarded-Proto (the scheme); the client address is the app's
# business (TRUSTED_PROXY_COUNT). gunicorn reads FORWARDED_ALLOW_IPS itself as well.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")

# gunicorn 27 opens a control socket at a fixed path by default; several instances on one
# machine (and the test suite) would fight over it, and nothing here uses it.
control_socket_disable = True

# The app writes one JSON line per request to stdout (LOG_LEVEL); gunicorn's own access
# log would be a second, so it is off unless GUNICORN_ACCESS_LOG names a file or "-".
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms rid=%({x-request-id}o)s'
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()


def post_worker_init(worker):
    """Chain streamchat's graceful drain onto the worker's SIGTERM handling."""
    from streamchat.shutdown import drain_on_sigterm

    drain_on_sigterm(worker)
