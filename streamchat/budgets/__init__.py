"""Room for token budgets: how much each person, and the whole deployment, may spend.

Empty until the budgets issue lands. What goes here: the budget store (shared by every
worker, Redis across instances), the check before an upstream call and the count when
a stream ends. It may import settings, errors, runtime and identity; streamchat.web
and app.py import it. It counts per stream, never per chunk.
"""
