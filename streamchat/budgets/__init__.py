"""Token budgets: how much each person, and the whole deployment, may spend
(docs/budgets.md; docs/architecture.md, "Request lifecycle").

Holds the check and reservation before an upstream call and the settling when a run
ends (``ledger``, counting in the shared-state layer: the machine's SQLite file or
Redis), and what a run counts: reported usage, else the input counted with the model's
tokenizer or a conservative bound (``counting``, ``encodings``: the tokenizer files,
installed at set-up; images by OpenAI's tile rule, ``images``, their size read from
their header, ``image_headers``). ``build_budgets`` and ``build_text_counts`` build
them for an app.

It may import settings, errors and state; streamchat.runs, runtime, web and app.py import
it. It works per run, never per chunk.
"""

from __future__ import annotations

from pathlib import Path

from ..settings import Settings, SettingsError
from ..state import SharedState
from .counting import TextCounts, encoding_for, estimate_input_tokens, tokens_counted
from .encodings import load_encodings
from .ledger import (
    NO_BUDGET,
    Admission,
    BudgetExhausted,
    Budgets,
    BudgetUnavailable,
    ConversationOverBudget,
)

__all__ = [
    "NO_BUDGET",
    "Admission",
    "BudgetExhausted",
    "BudgetUnavailable",
    "Budgets",
    "ConversationOverBudget",
    "TextCounts",
    "build_budgets",
    "build_text_counts",
    "estimate_input_tokens",
    "tokens_counted",
]


def build_budgets(settings: Settings, state: SharedState) -> Budgets | None:
    """The app's Budgets, or None when neither TOKEN_BUDGET nor GLOBAL_TOKEN_BUDGET is set."""
    if not (settings.token_budget or settings.global_token_budget):
        return None
    if not settings.max_output_tokens:
        # The cap is what keeps one reply within what is left; with none, a reply would
        # be sent (and hold) the whole remaining budget.
        raise SettingsError(
            "MAX_OUTPUT_TOKENS must be above 0 when TOKEN_BUDGET or GLOBAL_TOKEN_BUDGET is set"
        )
    scheme = settings.ratelimit_storage_uri.partition("://")[0].lower()
    if not settings.redis_url and scheme != "memory":
        # Several instances sharing a limiter storage other than Redis would each count
        # a whole budget in their own machine's file.
        raise SettingsError(
            "Token budgets keep their counts in SQLite (the machine's file) or Redis "
            f"(REDIS_URL=redis://host:6379), not {scheme}://"
        )
    return Budgets(state, settings.token_budget, settings.global_token_budget)


def build_text_counts(settings: Settings, folder: Path) -> TextCounts:
    """The input counter for the models this app serves, with the tokenizers their
    names call for loaded from ``folder`` (installed at set-up; a missing one is logged
    and its models counted by the byte bound)."""
    wanted = {encoding_for(model) for model in settings.openai_models} - {None}
    return TextCounts(load_encodings(folder, wanted))
