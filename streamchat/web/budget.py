"""Token budgets on the web side: GET /api/budget, and the two steps of a streamed
reply that touch the budgets (admit before the upstream call, count when it ends).

The caller is ``client_key()``: the signed-in user or token, else the client address,
as for the rate limit.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from flask import Blueprint, jsonify

from ..budgets import Admission, BudgetStoreUnavailable, tokens_counted
from ..budgets.ledger import NO_BUDGET
from ..runtime import Runtime, current_runtime
from ..upstream.streams import ChatRequest
from .ratelimit import client_key
from .requestlog import RequestRecord

LOG = logging.getLogger("streamchat.budgets")
REMAINING_HEADER = "X-Token-Budget-Remaining"

budget = Blueprint("budget", __name__)


@budget.get("/api/budget")
def status():
    """The caller's budget (``limit``, ``used``, ``remaining``, ``resets_in_seconds``,
    ``period_seconds``; all null without TOKEN_BUDGET) and ``global`` when set."""
    budgets = current_runtime().budgets
    answer = NO_BUDGET if budgets is None else budgets.status(client_key())
    return jsonify(answer), {"Cache-Control": "no-store"}


def admit(
    runtime: Runtime, chat_request: ChatRequest, estimated_input: int
) -> tuple[ChatRequest, Admission | None]:
    """Reserve the reply's cost, with its output cap lowered to what is left; raises the
    429 or 503 ApiError. Without budgets, the request as it was."""
    if runtime.budgets is None:
        return chat_request, None
    admission = runtime.budgets.admit(
        client_key(), estimated_input, runtime.settings.max_output_tokens
    )
    return replace(chat_request, max_output_tokens=admission.output_cap), admission


def count(
    runtime: Runtime, record: RequestRecord, admission: Admission | None, estimated_input: int
) -> None:
    """Count the ended stream into ``record`` (``tokens_counted``, ``tokens_source``) and
    settle its reservation. Never raises: the stream has already ended."""
    tokens, source = tokens_counted(record.usage, estimated_input, record.chunks)
    record.tokens_counted, record.tokens_source = tokens, source
    if admission is None:
        return
    try:
        runtime.budgets.settle(admission, tokens)
    except BudgetStoreUnavailable as error:
        # Loud: these tokens were spent but not counted, and the reservation stays.
        LOG.error(
            "budget_settle_failed",
            extra={"request_id": record.request_id, "tokens": tokens, "error": str(error)},
        )


def release(runtime: Runtime, admission: Admission | None) -> None:
    """Give back a reservation when no stream started (the upstream refused, say)."""
    if admission is None:
        return
    try:
        runtime.budgets.settle(admission, 0)
    except BudgetStoreUnavailable as error:
        LOG.error("budget_release_failed", extra={"error": str(error)})
