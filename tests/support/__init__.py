"""What the tests share, apart from fixtures: server launchers, waiting helpers, the fake
OpenAI-compatible upstream, raw socket servers, payload and request-body builders, a
recording SDK transport, reading /metrics, a server's workers and their memory (/proc),
reading runs from outside (their owners, the log lines), the budget tests' reply, the
test key and the settings no test may inherit.

Who may import it: test modules, conftest files, tests/node/servers.py and the helper
scripts beside this file. It imports no test module and no conftest: helpers live here,
fixtures in conftest files, and a test gets its fixtures by injection.

This file imports nothing, so that gevent_direct_check.py and probe_wsgi.py can patch
the process before anything else is loaded.
"""
