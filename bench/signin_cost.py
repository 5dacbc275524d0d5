"""CPU per request that sign-in adds: the same page request through Flask's test client
with AUTH=none, with AUTH=password and a session cookie, and with an API token.

    .venv/bin/python -m bench.signin_cost [N]

Sign-in is a per-request check (the gate, the session cookie, the user lookup); nothing
of it runs per chunk, so this is its whole cost.
"""

from __future__ import annotations

import statistics
import sys
import time

from werkzeug.test import EnvironBuilder

from app import create_app
from streamchat.identity.accounts import hash_password, new_token, token_digest

SECRET = "bench-secret-key-not-real-0123456789abcdef"
PASSWORD = "bench-password-not-real"


def _start_response(status, headers, exc_info=None):
    return None


def per_request_us(app, n: int, headers: dict) -> float:
    """Thread CPU time per GET /, in microseconds, over ``n`` requests straight into the
    WSGI app (no test client: its cookie jar would be counted too)."""
    environ = EnvironBuilder(path="/", headers=headers).get_environ()
    started = time.thread_time()
    for _ in range(n):
        body = app(dict(environ), _start_response)
        b"".join(body)
        body.close()
    return (time.thread_time() - started) / n * 1e6


def interleaved(cases: dict, n: int, rounds: int = 9) -> dict[str, float]:
    """The median per case, the cases taking turns each round (cores here drift)."""
    seen: dict[str, list[float]] = {name: [] for name in cases}
    for name, (app, headers) in cases.items():  # warm up, and check each is served
        statuses: list[str] = []
        environ = EnvironBuilder(path="/", headers=headers).get_environ()
        page = b"".join(app(environ, lambda status, h, e=None, seen=statuses: seen.append(status)))
        assert statuses == ["200 OK"], name
        assert (name == "none") == (b"Sign out" not in page), name
    for _ in range(rounds):
        for name, (app, headers) in cases.items():
            seen[name].append(per_request_us(app, n, headers))
    return {name: statistics.median(values) for name, values in seen.items()}


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    base = {"TESTING": True, "RATE_LIMIT": "", "LOG_LEVEL": "WARNING"}
    token = new_token()
    auth = {
        "AUTH": "password",
        "SECRET_KEY": SECRET,
        "AUTH_USERS": f"bench:{hash_password(PASSWORD)}",
        "API_TOKENS": f"ci:{token_digest(token)}",
    }
    protected = create_app({**base, **auth})
    signing_in = protected.test_client()
    signing_in.post("/login", data={"username": "bench", "password": PASSWORD})
    cookie = f"session={signing_in.get_cookie('session').value}"
    result = interleaved(
        {
            "none": (create_app(base), {}),
            "session": (protected, {"Cookie": cookie}),
            "token": (protected, {"Authorization": f"Bearer {token}"}),
        },
        n,
    )
    none, session, bearer = result["none"], result["session"], result["token"]
    print(f"GET / x {n} per round, median of 9 interleaved rounds, CPU per request:")
    print(f"  AUTH=none                {none:7.1f} us")
    print(f"  AUTH=password, session  {session:7.1f} us  (+{session - none:.1f} us)")
    print(f"  AUTH=password, token    {bearer:7.1f} us  (+{bearer - none:.1f} us)")


if __name__ == "__main__":
    main()
