"""gunicorn entry for leak tests (tests.support.launch.PROBE_APP): the real app from wsgi.py
plus a route that counts what a stream could leave behind (live greenlets, open file
descriptors)."""

import gc
import os

import wsgi  # before any other third-party import: it applies gevent's monkey-patching

app = wsgi.app


@app.get("/_probe")
def probe():
    """Counts of live greenlets and open file descriptors in this worker."""
    from flask import jsonify
    from greenlet import greenlet

    gc.collect()
    live = sum(1 for o in gc.get_objects() if isinstance(o, greenlet) and not o.dead)
    return jsonify(greenlets=live, fds=len(os.listdir("/proc/self/fd")), pid=os.getpid())
