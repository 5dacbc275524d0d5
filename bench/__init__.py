"""Side-by-side benchmark of the relay: the app, a tutorial-style baseline, and a raw floor.

``python -m bench.run`` (or ``./scripts/bench``) runs it; bench/README.md explains the figures.
"""
