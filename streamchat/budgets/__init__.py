"""Token budgets: how much each person, and the whole deployment, may spend (docs/budgets.md;
docs/architecture.md, "Request lifecycle").

Holds the counter stores (``store``: the machine's SQLite file, which every worker
shares, or Redis across instances), the check and reservation before an upstream call
and the settling when a stream ends (``ledger``), and what a stream counts: reported
usage, else an estimate (``counting``). ``install_budgets`` builds them for an app.

It may import settings, errors and machine_db; streamchat.web, runtime and app.py import it. It
works per stream, never per chunk.
"""

from __future__ import annotations

from ..machine_db import MachineDatabase
from ..settings import Settings, SettingsError
from .counting import estimate_input_tokens, tokens_counted
from .ledger import Admission, Budgets, budget_unavailable
from .store import BudgetStoreUnavailable, counter_store

__all__ = [
    "Admission",
    "BudgetStoreUnavailable",
    "Budgets",
    "budget_unavailable",
    "build_budgets",
    "estimate_input_tokens",
    "tokens_counted",
]


def build_budgets(settings: Settings, database: MachineDatabase) -> Budgets | None:
    """The app's Budgets, or None when neither TOKEN_BUDGET nor GLOBAL_TOKEN_BUDGET is set."""
    if not (settings.token_budget or settings.global_token_budget):
        return None
    if not settings.max_output_tokens:
        # The cap is what keeps one reply within what is left; with none, a reply would
        # be sent (and hold) the whole remaining budget.
        raise SettingsError(
            "MAX_OUTPUT_TOKENS must be above 0 when TOKEN_BUDGET or GLOBAL_TOKEN_BUDGET is set"
        )
    store = counter_store(settings.ratelimit_storage_uri, database)
    return Budgets(store, settings.token_budget, settings.global_token_budget)
