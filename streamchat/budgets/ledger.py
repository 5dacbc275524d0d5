"""The budget check before an upstream call and the count when a stream ends.

Windows are aligned to the clock (UTC): a ``/day`` budget renews at midnight UTC, an
``/hour`` one on the hour, so everyone's "left today" means the same day.

Admission *reserves* what a reply may cost (its estimated input plus the output cap it
is sent with) in every budget that applies, and the stream's end settles the
reservation to what was counted. Replies running side by side therefore cannot each
spend the same remainder: the total stays within the budget but for one reply's
overshoot when the estimate was low.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import time
from dataclasses import dataclass

from ..errors import Refusal
from ..settings.budgets import BudgetSetting
from ..state import SharedState, StateUnavailable

_KEY_PREFIX = "streamchat:budget"
# How long a window's counter outlives its end, so a reply that ends after the window
# turned over still settles into the window that admitted it.
_SETTLE_GRACE_SECONDS = 3600
# Long enough for a Redis failover or a locked file to clear.
BUDGET_UNAVAILABLE_RETRY_AFTER = 5
# The smallest output cap a reply is sent with: OpenAI's Responses API refuses a
# max_output_tokens under 16, and a reply cut after a few words helps nobody.
MIN_OUTPUT_TOKENS = 16
# GET /api/budget's figures for a caller without a budget of their own.
NO_BUDGET = dict.fromkeys(("limit", "used", "remaining", "resets_in_seconds", "period_seconds"))


@dataclass(frozen=True)
class Window:
    """One budget's current window for one caller."""

    scope: str  # "person" or "global"
    budget: BudgetSetting
    key: str
    ends_at: float

    @property
    def expires_at(self) -> float:
        return self.ends_at + _SETTLE_GRACE_SECONDS


@dataclass
class Admission:
    """What a stream was admitted with: the reservation to settle, and its output cap."""

    windows: list[Window]
    reserved: int
    output_cap: int
    remaining: int  # tokens left before this reply (the smallest of its budgets)
    settled: bool = False


def _window(scope: str, budget: BudgetSetting, who: str, now: float) -> Window:
    index = int(now // budget.period_seconds)
    key = f"{_KEY_PREFIX}:{scope}:{budget.period_seconds}:{index}"
    if scope == "person":
        # Hashed: a key in Redis should not list who spent what.
        key += ":" + hashlib.sha256(who.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return Window(scope, budget, key, (index + 1) * budget.period_seconds)


class BudgetExhausted(Refusal):
    """A budget has no room for one more reply until its window renews."""

    def __init__(self, scope: str, retry_after: int) -> None:
        super().__init__(scope)
        self.scope = scope  # "person" or "global"
        self.retry_after = retry_after


class ConversationOverBudget(Refusal):
    """The conversation alone is larger than a whole budget: no window will fit it."""

    def __init__(self, scope: str, budget_text: str) -> None:
        super().__init__(scope)
        self.scope = scope
        self.budget_text = budget_text


class BudgetUnavailable(Refusal):
    """The shared store cannot be reached, so the budgets cannot be checked: refused,
    never guessed."""

    retry_after = BUDGET_UNAVAILABLE_RETRY_AFTER


def _exhausted(window: Window, now: float) -> BudgetExhausted:
    return BudgetExhausted(window.scope, max(1, math.ceil(window.ends_at - now)))


def _fit(
    spent: list[tuple[Window, int]], estimated_input: int, max_output: int, now: float
) -> tuple[int, int]:
    """What is left (the smallest of the windows') and the output cap a reply gets from
    it; the 429 of the binding window when that cap would be under MIN_OUTPUT_TOKENS."""
    least_output = min(MIN_OUTPUT_TOKENS, max_output)
    for window, used in spent:
        if window.budget.amount - used - estimated_input < least_output:
            raise _exhausted(window, now)
    remaining = min(window.budget.amount - used for window, used in spent)
    return remaining, min(max_output, remaining - estimated_input)


class Budgets:
    """TOKEN_BUDGET per person and GLOBAL_TOKEN_BUDGET for everybody, in ``store``."""

    def __init__(
        self,
        store: SharedState,
        person: BudgetSetting | None,
        everybody: BudgetSetting | None,
    ) -> None:
        self.store = store
        self._budgets = [(s, b) for s, b in (("person", person), ("global", everybody)) if b]

    def windows(self, who: str, now: float) -> list[Window]:
        """The current window of each budget that applies to ``who``."""
        return [_window(scope, budget, who, now) for scope, budget in self._budgets]

    def _used(self, who: str, now: float) -> list[tuple[Window, int]]:
        """Each current window of ``who`` with what has been spent (or held) in it."""
        windows = self.windows(who, now)
        try:
            used = self.store.totals([w.key for w in windows])
        except StateUnavailable:
            raise BudgetUnavailable() from None
        # Never below 0: a settling after Redis lost the key must not give budget back.
        return [(window, max(0, u)) for window, u in zip(windows, used, strict=True)]

    def admit(self, who: str, estimated_input: int, max_output: int) -> Admission:
        """Reserve a reply's cost for ``who``, or raise: BudgetExhausted when no budget
        is left, ConversationOverBudget when the conversation alone exceeds a whole
        budget, BudgetUnavailable when the store is unreachable. ``max_output`` is
        MAX_OUTPUT_TOKENS (build_budgets makes sure it is above 0)."""
        now = time.time()
        spent = self._used(who, now)
        for window, _ in spent:
            if estimated_input + min(MIN_OUTPUT_TOKENS, max_output) > window.budget.amount:
                raise ConversationOverBudget(window.scope, window.budget.text)
        remaining, output_cap = _fit(spent, estimated_input, max_output, now)
        windows = [window for window, _ in spent]
        admission = Admission(windows, estimated_input + output_cap, output_cap, remaining)
        self._reserve(admission, estimated_input, max_output, now)
        return admission

    def _reserve(
        self, admission: Admission, estimated_input: int, max_output: int, now: float
    ) -> None:
        keys = {window.key: window.expires_at for window in admission.windows}
        try:
            totals = self.store.add(admission.reserved, keys)
        except StateUnavailable:
            raise BudgetUnavailable() from None
        # What the others had spent or held when our add landed: more than we read if a
        # reply elsewhere was admitted in between. Fit again to that.
        before = [(w, totals[w.key] - admission.reserved) for w in admission.windows]
        try:
            remaining, output_cap = _fit(before, estimated_input, max_output, now)
        except BudgetExhausted:
            self._give_back(admission.reserved, keys)
            raise
        if output_cap < admission.output_cap:
            self._give_back(admission.output_cap - output_cap, keys)
            admission.reserved -= admission.output_cap - output_cap
            admission.output_cap, admission.remaining = output_cap, remaining

    def _give_back(self, tokens: int, keys: dict[str, float]) -> None:
        # If the store is gone meanwhile, the tokens stay held: the safe side.
        with contextlib.suppress(StateUnavailable):
            self.store.add(-tokens, keys)

    def settle(self, admission: Admission, tokens: int) -> None:
        """Turn the reservation into the ``tokens`` the reply counted (once). Raises
        StateUnavailable when the store cannot take it; the caller logs that."""
        if admission.settled:
            return
        admission.settled = True
        keys = {window.key: window.expires_at for window in admission.windows}
        self.store.add(tokens - admission.reserved, keys)

    def release(self, admission: Admission) -> None:
        """Give the whole reservation back: no stream started (the upstream refused, say).
        A store that is down meanwhile keeps it held: the safe side."""
        with contextlib.suppress(StateUnavailable):
            self.settle(admission, 0)

    def status(self, who: str) -> dict:
        """What ``who`` sees at GET /api/budget: their own budget's figures (None when
        TOKEN_BUDGET is unset) and, with GLOBAL_TOKEN_BUDGET, ``global``."""
        now = time.time()
        figures = {
            w.scope: {
                "limit": w.budget.amount,
                "used": u,
                "remaining": max(0, w.budget.amount - u),
                "resets_in_seconds": max(0, math.ceil(w.ends_at - now)),
                "period_seconds": w.budget.period_seconds,
            }
            for w, u in self._used(who, now)
        }
        answer = dict(figures.get("person", NO_BUDGET))
        if "global" in figures:
            answer["global"] = figures["global"]
        return answer
