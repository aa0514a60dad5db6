"""Concurrent requests never overdraw, double-spend a code, or reverse a redemption twice."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import requests

from conformance.server import RunningServer

from .conftest import seed_with
from .support import AUTH, GROUP_ID, MOBILE, Api, entity, group_body

THREADS = 20
LOW = MOBILE["low_balance"]


def race(count: int, call: Callable[[requests.Session], requests.Response]) -> list[Any]:
    """Run ``call`` from ``count`` threads released at the same instant; their JSON answers."""
    barrier = threading.Barrier(count)
    answers: list[Any] = [None] * count

    def worker(index: int) -> None:
        with requests.Session() as session:
            session.auth = AUTH
            barrier.wait()
            response = call(session)
            Api.check(response.request.method, response.request.path_url.partition("?")[0],
                      response)
            answers[index] = response.json()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert all(answer is not None for answer in answers)
    return answers


def test_concurrent_redemptions_never_overdraw(start: Callable[..., RunningServer]) -> None:
    # Skipping the code (allowed by this seed only) makes every request race on the balance.
    server = start(seed_data=seed_with(allow_skip_validation=True))
    api = Api(server.base_url)
    before = api.balance(mobile=LOW)
    answers = race(THREADS, lambda s: s.post(
        server.base_url + "/v1.1/points/redeem",
        params={"skip_validation": "true", "validation_type": "INVALID"},
        json={"root": {"redeem": [{"mobile": LOW, "points_redeemed": 50}]}}))
    codes = [a["response"]["responses"]["points"]["item_status"]["code"] for a in answers]
    successes = [a["response"]["responses"]["points"] for a in answers
                 if a["response"]["responses"]["points"]["item_status"]["code"] == 800]
    assert sorted(set(codes)) == [800, 818]
    assert len(successes) == before // 50 == 6
    assert len({s["redemption_id"] for s in successes}) == len(successes)
    assert sorted(s["balance"] for s in successes) == list(range(0, before, 50))
    assert api.balance(mobile=LOW) == before - 50 * len(successes) == 0
    assert server.state.ledger.outstanding_redeemed() == before


def test_one_code_redeems_once_under_concurrency(api: Api, server: RunningServer) -> None:
    spender = MOBILE["spender"]
    code = api.redeem_code(spender)
    before = api.balance(mobile=spender)
    answers = race(10, lambda s: s.post(server.base_url + "/v1.1/points/redeem", json={
        "root": {"redeem": [{"mobile": spender, "points_redeemed": 100,
                             "validation_code": code}]}}))
    codes = sorted(a["response"]["responses"]["points"]["item_status"]["code"] for a in answers)
    assert codes == [800] + [808] * 9
    assert api.balance(mobile=spender) == before - 100


def test_one_redemption_reverses_once_under_concurrency(api: Api, server: RunningServer) -> None:
    spender = MOBILE["spender"]
    block = api.redeem_points(spender, 500)
    answers = race(10, lambda s: s.post(server.base_url + "/v2/points/reverse",
                                        json={"redemptionId": block["redemption_id"]}))
    reversed_points = [a["pointsReversed"] for a in answers if not a["errors"]]
    assert reversed_points == [500]
    assert sorted(a["errors"][0]["code"] for a in answers if a["errors"]) == [812] * 9
    assert api.balance(mobile=spender) == block["balance"] + 500


def test_concurrent_group_transfers_never_overdraw(api: Api, server: RunningServer) -> None:
    before = api.balance(group_id=GROUP_ID), api.balance(mobile=MOBILE["receiver"])
    body = group_body(entity("USERGROUP2", "id", GROUP_ID),
                      entity("CUSTOMER", "mobile", MOBILE["receiver"]), 300, MOBILE["spender"])
    answers = race(THREADS, lambda s: s.post(server.base_url + "/v2/points/userGroup2/transfer",
                                             json=body))
    moved = sum(a["data"][0]["pointsTransferred"] for a in answers if a["data"])
    assert moved == 300 * (before[0] // 300)
    assert sorted({e["code"] for a in answers for e in a["errors"]}) == [818]
    assert api.balance(group_id=GROUP_ID) == before[0] - moved
    assert api.balance(mobile=MOBILE["receiver"]) == before[1] + moved
