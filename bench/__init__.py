"""streamchat's benchmark: named scenarios that measure the real app over HTTP.

``python -m bench [SCENARIO]`` (or ``./scripts/bench``) runs one; bench/__main__.py lists
them and bench/README.md explains the figures.
"""
