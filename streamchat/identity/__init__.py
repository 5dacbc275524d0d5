"""Room for identity: who may spend the key (sign-in, sessions, API tokens).

Empty until the sign-in issue lands. What goes here: the Flask-Login user loader, the
password and OpenID Connect sign-in routes, API-token checks and the CLI that makes
users and tokens. It may import settings, errors and runtime; streamchat.web and
app.py import it, and budgets key on the identities it gives.
"""
