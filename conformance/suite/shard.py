"""``--shard I/N``: which share of the suite each of N jobs runs.

- The scenarios all run in shard 1: they read and change the profile customers' balances, so
  two jobs running them at once against one target would disturb each other.
- The fuzzed operations are dealt round-robin over the shards, in the specs' order: operation
  k (from 0) goes to shard ``k % N + 1``.
- The linked sequences (CON-08: the stateful phase and the link walk) run in shard N, the last,
  away from the scenarios: with N of 2 or more shard 1 carries the scenarios, shard N the walk.

A requirement carried only by tests of other shards is not selected in this one, and its reason
names the shard that judges it; `points-conformance merge` joins the shards' results.
"""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from conformance.suite.contract_phase import OPERATIONS

SCENARIOS_SHARD = 1
_ORDER = {operation_id: k for k, (operation_id, _, _) in enumerate(OPERATIONS)}


def owner(item: pytest.Item, count: int) -> int:
    """The shard (1..count) that runs ``item``."""
    if not item.get_closest_marker("contract_phase"):
        return SCENARIOS_SHARD
    callspec = getattr(item, "callspec", None)
    operation_id = callspec.params.get("operation_id") if callspec is not None else None
    if operation_id in _ORDER:
        return _ORDER[operation_id] % count + 1
    return count  # the linked sequences


def reason(index: int, count: int, judged_in: Iterable[int]) -> str:
    """The not-selected reason of an id only other shards' tests carry."""
    shards = sorted(set(judged_in))
    where = ", ".join(f"{i}/{count}" for i in shards)
    return (f"not selected (--shard {index}/{count}): judged in shard"
            f"{'s' if len(shards) != 1 else ''} {where}")
