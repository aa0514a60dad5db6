"""The run's points budget and the undo log that reverses what a run redeemed."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable

import pytest

from conformance.target.client import TargetClient
from conformance.target.profile import Auth, Identifier, Profile, Program
from conformance.target.spending import Budget, BudgetExceeded, UndoLog
from tests.targets import Reply, Seen, json_reply

SPENDER = Identifier("mobile", "447700900001")

Answer = Callable[[dict], tuple[int, object]]


@pytest.fixture
def target(stub):
    """A loopback target answering POST /v2/points/reverse with ``answer(body)``."""

    def start(answer: Answer):
        def reply(seen: Seen, _handler) -> Reply:
            if seen.path != "/v2/points/reverse":
                return json_reply(404, {})
            return json_reply(*answer(json.loads(seen.body)))

        return stub(reply)

    return start


def make_client(base_url: str, *, reversal_enabled: bool = True, **kwargs) -> TargetClient:
    profile = Profile(
        base_url=base_url, timeout_s=2,
        auth=Auth(username="qa-undo", password="Und0-Secret-pw"),
        program=Program(points_multiple=10, min_redeem=50, max_redeem=1000,
                        reversal_enabled=reversal_enabled),
        customers={"spender": SPENDER},
    )
    return TargetClient(profile, **kwargs)


def reverse_all(body: dict) -> tuple[int, object]:
    """A well-behaved target: every reversal succeeds, as in the seed sample."""
    return 200, {"redemptionId": body["redemptionId"],
                 "pointsToBeReversed": body["pointsToBeReversed"],
                 "pointsReversed": float(body["pointsToBeReversed"]),
                 "reversalId": "rv-" + body["redemptionId"], "warnings": []}


# --- budget -----------------------------------------------------------------------------------

def test_budget_tracks_spent_and_remaining():
    budget = Budget(500)
    budget.spend(100, "RDM-02 redeem")
    budget.spend(400, "TRF-02 transfer")
    assert (budget.spent, budget.remaining) == (500, 0)
    budget.spend(0, "a check that moves nothing")


def test_budget_refuses_a_call_that_would_exceed_it_and_spends_nothing():
    budget = Budget(300)
    budget.spend(250, "RDM-02 redeem")
    with pytest.raises(BudgetExceeded) as info:
        budget.spend(100, "RDM-12 concurrent redeem")
    message = str(info.value)
    assert "RDM-12 concurrent redeem" in message
    assert "asked for 100 points" in message and "only 50" in message and "300" in message
    assert budget.spent == 250  # a refused spend leaves the budget as it was


def test_budget_rejects_negative_amounts():
    with pytest.raises(ValueError):
        Budget(100).spend(-10, "refund?")


def test_budget_is_thread_safe():
    budget = Budget(500)
    granted: list[int] = []
    lock = threading.Lock()

    def spend() -> None:
        try:
            budget.spend(10, "concurrent")
        except BudgetExceeded:
            return
        with lock:
            granted.append(10)

    threads = [threading.Thread(target=spend) for _ in range(200)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(granted) == 500 and budget.spent == 500 and budget.remaining == 0


# --- undo log ---------------------------------------------------------------------------------

def test_undo_reverses_everything_outstanding(target):
    server = target(reverse_all)
    log = UndoLog()
    log.redeemed("r0njPT", SPENDER, 100)
    log.redeemed("54ZNkA", Identifier("external_id", "EXT-9"), 60)
    log.redeemed("card01", Identifier("card_number", "C-1"), 50)
    assert log.undo_all(make_client(server.url)) == []
    assert [json.loads(s.body) for s in server.seen] == [
        {"redemptionId": "r0njPT", "pointsToBeReversed": 100,
         "identifier": {"type": "mobile", "value": "447700900001"}},
        {"redemptionId": "54ZNkA", "pointsToBeReversed": 60,
         "identifier": {"type": "externalId", "value": "EXT-9"}},
        # The reversal identifier has no card type: sent without one (it is optional).
        {"redemptionId": "card01", "pointsToBeReversed": 50},
    ]
    assert all(s.headers.get("Authorization", "").startswith("Basic ") for s in server.seen)
    assert log.outstanding == []
    assert log.undo_all(make_client(server.url)) == []
    assert len([json.loads(s.body) for s in server.seen]) == 3  # nothing reversed twice


def test_undo_reverses_only_what_a_scenario_left(target):
    server = target(reverse_all)
    log = UndoLog()
    log.redeemed("part", SPENDER, 100)
    log.reversed("part", 30)  # REV-06's partial reversal
    log.redeemed("done", SPENDER, 50)
    log.reversed("done", 50)
    assert log.undo_all(make_client(server.url)) == []
    bodies = [json.loads(s.body) for s in server.seen]
    assert [(b["redemptionId"], b["pointsToBeReversed"]) for b in bodies] == [("part", 70)]


@pytest.mark.parametrize("status, answer, why", [
    (200, {"errors": [{"code": 812, "message": "Already reversed"}]}, "812 Already reversed"),
    (400, {"errors": [{"code": "902", "message": "Unknown redemption"}]}, "902 Unknown redemption"),
    (200, {"warnings": [{"code": 904, "message": "Not the owner"}], "pointsReversed": 10},
     "no reversalId: 904 Not the owner"),
    (500, b"<html>Internal error</html>", "HTTP 500, the answer is not a JSON object"),
    # A 2xx alone is not success: the body decides.
    (200, {"data": []}, "HTTP 200, no reversalId"),
])
def test_undo_reports_each_redemption_it_could_not_undo(target, status, answer, why):
    server = target(lambda body: (status, answer) if body["redemptionId"] == "bad"
                    else reverse_all(body))
    log = UndoLog()
    log.redeemed("good", SPENDER, 100)
    log.redeemed("bad", SPENDER, 40)
    (line,) = log.undo_all(make_client(server.url))
    assert line.startswith("redemption bad (40 of 40 points, mobile=447700900001): not reversed")
    assert why in line
    assert [r.redemption_id for r in log.outstanding] == ["bad"]  # retried by a later undo


def test_undo_reports_a_short_reversal(target):
    server = target(lambda body: (200, {"reversalId": "rv1", "pointsReversed": 25}))
    log = UndoLog()
    log.redeemed("short", SPENDER, 100)
    (line,) = log.undo_all(make_client(server.url))
    assert "only 25 of 100 points reversed (reversalId rv1)" in line
    assert log.outstanding[0].outstanding == 75


def test_undo_when_the_program_forbids_reversals_calls_nothing(target):
    server = target(reverse_all)
    log = UndoLog()
    log.redeemed("r1", SPENDER, 100)
    lines = log.undo_all(make_client(server.url, reversal_enabled=False))
    assert lines == ["redemption r1 (100 of 100 points, mobile=447700900001): not attempted: "
                     "program.reversal_enabled is false"]
    assert [json.loads(s.body) for s in server.seen] == []


def test_undo_against_an_unreachable_target_stops_trying():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    log = UndoLog()
    for n in range(3):
        log.redeemed(f"r{n}", SPENDER, 10)
    first, *rest = log.undo_all(make_client(f"http://127.0.0.1:{port}"))
    assert "not reversed:" in first and "connection refused" in first
    assert len(rest) == 2 and all("not attempted: the target stopped answering" in r
                                  for r in rest)


def test_undo_on_a_shared_target_without_the_flag_is_refused_not_sent():
    log = UndoLog()
    log.redeemed("r1", SPENDER, 10)
    (line,) = log.undo_all(make_client("http://staging.example.invalid"))
    assert "refused POST /v2/points/reverse" in line and "--allow-mutations" in line


def test_empty_log_needs_no_target():
    assert UndoLog().undo_all(make_client("http://staging.example.invalid")) == []
