"""GET /api/budget: what is left of the caller's token budget (and the deployment's).

The caller is ``client_key()``: the signed-in user or token, else the client address,
as for the rate limit and the runs' reservations.
"""

from __future__ import annotations

from flask import Blueprint, jsonify

from ..budgets import NO_BUDGET
from ..runtime import current_runtime
from .ratelimit import client_key

budget = Blueprint("budget", __name__)


@budget.get("/api/budget")
def status():
    """The caller's budget (``limit``, ``used``, ``remaining``, ``resets_in_seconds``,
    ``period_seconds``; all null without TOKEN_BUDGET) and ``global`` when set."""
    budgets = current_runtime().budgets
    answer = NO_BUDGET if budgets is None else budgets.status(client_key())
    return jsonify(answer), {"Cache-Control": "no-store"}
