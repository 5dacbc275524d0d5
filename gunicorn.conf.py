"""gunicorn settings for streamchat: used by the Procfile, scripts/serve and the tests.

Every value comes from the environment with a default that suits a Heroku-style
platform; docs/configuration.md lists them.
"""

import os
import sys

from dotenv import load_dotenv

from streamchat.metrics.multiprocess import forget_worker, prepare_directory, remove_directory
from streamchat.settings import SettingsError, load_server_settings

# The master reads this file before any worker imports wsgi.py, so a .env beside the code
# (development; real environment variables win) must be read here for PORT, workers and
# connections to follow it. The workers inherit what it sets.
load_dotenv(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".env"), override=False)

try:
    server = load_server_settings()
except SettingsError as error:
    # The same one line and exit code as wsgi.py: gunicorn would print a traceback for
    # an exception here, but a SystemExit ends the master as it is.
    print(f"streamchat: configuration error: {error}", file=sys.stderr, flush=True)
    raise SystemExit(3) from None

# Metrics (METRICS_TOKEN): each worker writes its counts to this directory and a scrape
# adds them up, so it is set here, in the master, before any worker starts.
prepare_directory(server.metrics_dir)

bind = server.bind
workers = server.workers

# Streams are long-lived and mostly waiting on the network: gevent runs each connection
# as a greenlet, so one worker holds many.
worker_class = "gevent"

# Open connections per worker, streams included (see streamchat.settings.server for why
# twice MAX_STREAMS_PER_WORKER by default).
worker_connections = server.worker_connections

# gevent workers are only killed on timeout when their event loop is blocked, so this
# does not limit stream length; it catches a wedged worker.
timeout = 30
# On SIGTERM open streams get this long to finish; the rest end with an error line just
# before it runs out (post_worker_init below). A 4,096-token reply at 50 tokens/s takes
# ~80 s, so the default leaves room for one.
graceful_timeout = server.graceful_timeout
keepalive = 5

# Patching happens in wsgi.py at import; preloading would import it in the master,
# before the workers fork, and gevent's patching must happen in each worker.
preload_app = False

# Which proxies may set X-Forwarded-Proto (the scheme); the client address is the app's
# business (TRUSTED_PROXY_COUNT). gunicorn reads FORWARDED_ALLOW_IPS itself as well.
forwarded_allow_ips = server.forwarded_allow_ips

# gunicorn 27 opens a control socket at a fixed path by default; several instances on one
# machine (and the test suite) would fight over it, and nothing here uses it.
control_socket_disable = True

# The app writes one JSON line per request to stdout (LOG_LEVEL); gunicorn's own access
# log would be a second, so it is off unless GUNICORN_ACCESS_LOG names a file or "-".
accesslog = server.access_log
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms rid=%({x-request-id}o)s'
errorlog = "-"
loglevel = server.log_level.lower()


def child_exit(server, worker):
    """A worker exited: its open-stream gauge must stop counting."""
    forget_worker(worker.pid)


def on_exit(server):
    """The master is stopping: remove the metrics directory it made."""
    remove_directory()


def post_worker_init(worker):
    """Chain streamchat's graceful drain onto the worker's SIGTERM handling."""
    from streamchat.runtime import runtime_of
    from streamchat.worker.shutdown import drain_on_sigterm

    drain_on_sigterm(worker, runtime_of(worker.wsgi).streams)
