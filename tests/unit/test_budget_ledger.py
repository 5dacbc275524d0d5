"""Token budgets' arithmetic in one process: counting a reply (reported or estimated),
the SQLite counter store that a machine's workers share, and the ledger's reservations,
settlements and refusals."""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path

import pytest

from streamchat.budgets import (
    BudgetExhausted,
    Budgets,
    ConversationOverBudget,
    tokens_counted,
)
from streamchat.budgets import ledger as ledger_module
from streamchat.budgets.ledger import _window
from streamchat.settings import load_settings
from streamchat.state import MachineDatabase
from streamchat.state.machine_state import MachineState

# --- counting --------------------------------------------------------------------------


def test_reported_usage_is_counted_as_reported():
    assert tokens_counted({"total_tokens": 72}, 30, 9) == (72, "reported")
    assert tokens_counted({"input_tokens": 10, "output_tokens": 5}, 30, 9) == (15, "reported")
    assert tokens_counted({"prompt_tokens": 3, "completion_tokens": 4}, 30, 9) == (7, "reported")


def test_without_usage_the_count_is_the_input_and_the_relayed_lines():
    assert tokens_counted(None, 29, 31) == (60, "estimated")
    assert tokens_counted({"prompt_tokens": 3}, 29, 31) == (60, "estimated")


def test_a_negative_reported_count_is_not_believed():
    assert tokens_counted({"total_tokens": -500}, 29, 31) == (60, "estimated")


# --- the SQLite store, shared by processes ----------------------------------------------


def _add_many(path: str, key: str, times: int) -> None:
    store = MachineState(MachineDatabase(Path(path)))
    for _ in range(times):
        store.add(3, {key: time.time() + 60, "everybody": time.time() + 60})


def test_workers_adding_at_once_lose_no_count(tmp_path):
    # Four processes, as four gunicorn workers, add 3 tokens 300 times each.
    path = str(tmp_path / "shared.sqlite3")
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_add_many, args=(path, "k", 300)) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    store = MachineState(MachineDatabase(tmp_path / "shared.sqlite3"))
    assert store.totals(["k", "everybody", "never"]) == [3600, 3600, 0]


def test_an_expired_window_counts_nothing(tmp_path):
    store = MachineState(MachineDatabase(tmp_path / "c.sqlite3"))
    assert store.add(50, {"old": time.time() - 1, "live": time.time() + 60}) == {
        "old": 50,
        "live": 50,
    }
    assert store.totals(["old", "live"]) == [0, 50]


# --- the ledger -------------------------------------------------------------------------


def ledger(tmp_path, person="300/hour", everybody=None) -> Budgets:
    def setting(text):
        return load_settings({"TOKEN_BUDGET": text}).token_budget if text else None

    store = MachineState(MachineDatabase(tmp_path / "l.sqlite3"))
    return Budgets(store, setting(person), setting(everybody))


def test_admission_reserves_the_cap_and_settling_counts_what_was_spent(tmp_path):
    budgets = ledger(tmp_path)
    admission = budgets.admit("alice", estimated_input=20, max_output=4096)
    assert (admission.output_cap, admission.reserved, admission.remaining) == (280, 300, 300)
    assert budgets.status("alice")["used"] == 300  # held while the reply runs
    budgets.settle(admission, 72)
    budgets.settle(admission, 72)  # once only
    assert budgets.status("alice")["used"] == 72
    assert budgets.status("bob")["used"] == 0


def test_replies_side_by_side_cannot_spend_the_same_remainder(tmp_path):
    budgets = ledger(tmp_path)
    first = budgets.admit("alice", estimated_input=20, max_output=100)
    second = budgets.admit("alice", estimated_input=20, max_output=100)
    assert (first.reserved, second.reserved) == (120, 120)
    with pytest.raises(BudgetExhausted) as refused:  # 60 left, and the input alone is 20...
        budgets.admit("alice", estimated_input=70, max_output=100)
    assert refused.value.scope == "person"
    third = budgets.admit("alice", estimated_input=20, max_output=100)
    assert third.output_cap == 40  # ...but a small request still fits what is left


def test_a_reply_is_not_sent_with_a_useless_cap(tmp_path):
    budgets = ledger(tmp_path)
    budgets.settle(budgets.admit("alice", 20, 4096), 264)  # 36 left: 20 in + 16 out fits
    assert budgets.admit("alice", 20, 4096).output_cap == 16
    budgets = ledger(tmp_path / "other")
    budgets.settle(budgets.admit("alice", 20, 4096), 265)  # 35 left: 15 out would not do
    with pytest.raises(BudgetExhausted) as refused:
        budgets.admit("alice", 20, 4096)
    assert refused.value.scope == "person"


class RacedCounters(MachineState):
    """A store in which another worker spends ``spent_between`` tokens between a read of
    the totals and the add that follows it."""

    def __init__(self, database, spent_between: int) -> None:
        super().__init__(database)
        self.spent_between = spent_between

    def totals(self, keys):
        found = super().totals(keys)
        if self.spent_between:
            spent, self.spent_between = self.spent_between, 0
            super().add(spent, dict.fromkeys(keys, time.time() + 3600))
        return found


@pytest.mark.parametrize(("spent_between", "cap"), [(150, 130), (280, None)])
def test_a_reply_admitted_elsewhere_meanwhile_shrinks_or_refuses_this_one(
    tmp_path, spent_between, cap
):
    setting = load_settings({"TOKEN_BUDGET": "300/hour"}).token_budget
    store = RacedCounters(MachineDatabase(tmp_path / "r.sqlite3"), spent_between)
    budgets = Budgets(store, setting, None)
    if cap is None:  # 20 left after the other reply: not enough for 20 in + 16 out
        with pytest.raises(BudgetExhausted) as refused:
            budgets.admit("alice", 20, 4096)
        assert refused.value.scope == "person"
        assert budgets.status("alice")["used"] == spent_between  # ours given back
        return
    admission = budgets.admit("alice", 20, 4096)  # read 300 left; 150 when it landed
    assert (admission.output_cap, admission.reserved) == (cap, 20 + cap)
    assert budgets.status("alice")["used"] == 300  # never past the budget


def test_a_conversation_longer_than_the_whole_budget_is_a_400_not_a_wait(tmp_path):
    budgets = ledger(tmp_path)
    with pytest.raises(ConversationOverBudget) as refused:
        budgets.admit("alice", estimated_input=290, max_output=4096)
    assert (refused.value.scope, refused.value.budget_text) == ("person", "300/hour")
    assert refused.value.retry_after is None


def test_a_lost_count_never_gives_more_than_the_whole_budget(tmp_path):
    budgets = ledger(tmp_path)
    admission = budgets.admit("alice", 20, 100)
    key = admission.windows[0].key
    budgets.store.add(-admission.reserved, {key: time.time() + 3600})  # Redis lost it
    budgets.settle(admission, 50)  # the settling then drives the count below zero
    assert budgets.store.totals([key]) == [-70]
    assert budgets.status("alice")["remaining"] == 300
    assert budgets.admit("alice", 20, 4096).output_cap == 280


def test_a_refusal_names_the_budget_and_when_it_renews(tmp_path):
    budgets = ledger(tmp_path, person="1000/hour", everybody="100/hour")
    budgets.settle(budgets.admit("alice", 10, 0), 95)
    with pytest.raises(BudgetExhausted) as refused:
        budgets.admit("bob", 10, 0)
    error = refused.value
    assert error.scope == "global"
    assert 0 < error.retry_after <= 3600
    assert error.retry_after == pytest.approx(3600 - time.time() % 3600, abs=2)


def test_a_reply_ending_after_its_window_settles_into_that_window(tmp_path, monkeypatch):
    budgets = ledger(tmp_path)
    admission = budgets.admit("alice", 20, 100)
    started = time.time()
    monkeypatch.setattr(ledger_module.time, "time", lambda: started + 3600)  # an hour on
    later = _window("person", admission.windows[0].budget, "alice", started + 3600)
    budgets.settle(admission, 50)
    monkeypatch.undo()
    totals = budgets.store.totals([admission.windows[0].key, later.key])
    assert totals == [50, 0]
