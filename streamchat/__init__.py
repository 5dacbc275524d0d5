"""streamchat: stream OpenAI-compatible chat replies from Flask to the browser as NDJSON.

The package is grouped by layer; each sub-package's docstring says what it holds and
who may import it (docs/architecture.md has the map and the request lifecycle):

- ``settings``: configuration, parsed once at start-up. Imports nothing of ours.
- ``errors``: ApiError, the answer given before a stream starts. Imports nothing of ours.
- ``relay``: the per-chunk path (upstream body bytes in, NDJSON lines out). Imports
  nothing of ours outside itself; the only code that knows httpx2/httpcore2 internals.
- ``upstream``: the SDK client, its pools, opening streams, readiness, the demo model.
  Imports settings, errors and relay.
- ``worker``: this worker process's open streams (admission) and graceful shutdown.
- ``web``: Flask routes and request hooks. Imports any of the above.
- ``identity``, ``budgets``, ``metrics``: rooms for sign-in, token budgets and
  Prometheus metrics.
- ``runtime``: what one app instance holds, and the typed accessor to it.

``app.py`` at the repository root wires them together (``create_app``).
"""
