"""The gold frames' `due` rule at its boundary, with no database (the mixing into real queues
is tested in test_quality.py). `make mutation` runs these against mutants of gold.py."""
from __future__ import annotations

import random

import pytest

from labeling.quality import gold


@pytest.mark.parametrize("served, gold_served, rate, offset, due", [
    (3, 1, 0.25, 0.0, False),  # exactly at the rate (1 of 4): not due yet
    (3, 0, 0.25, 0.999, True),  # behind the rate: due, wherever the offset puts it
    (3, 0, 0.25, 0.6, True),
    (1, 0, 0.25, 0.4, True),  # 0.4 < 0.25 · 2
    (1, 0, 0.25, 0.5, False),  # 0.5 = 0.25 · 2: not strictly below
    (0, 0, 0.5, 0.9, False),  # the offset pushes the first one later
    (0, 0, 0.5, 0.0, True),
    (9, 1, 0.1, 0.0, False),  # 1 + 0 < 0.1 · 10 (= 1.0) is false
    (10, 1, 0.1, 0.0, True),
    (5, 0, 0.0, 0.0, False),  # rate 0: never
])
def test_due_at_its_boundary(served, gold_served, rate, offset, due):
    assert gold.due(served, gold_served, rate, offset) is due


def test_due_keeps_the_share_within_one_frame_for_any_offsets():
    rng = random.Random(7)
    for rate in (0.02, 0.1, 1 / 3, 0.5):
        gold_served = 0
        for served in range(300):
            if gold.due(served, gold_served, rate, rng.random()):
                gold_served += 1
            assert rate * (served + 1) - 1 <= gold_served <= rate * (served + 1) + 1


def test_the_gold_policy_uses_the_random_source_it_is_given():
    rng = random.Random(3)
    policy = gold.GoldPolicy(rng)
    assert policy.rng is rng
    assert isinstance(gold.GoldPolicy().rng, random.Random)
    # it only serves (pick); it filters and reorders nothing
    assert policy.sql_filter(None, None) is None
    candidates = [object(), object()]
    assert policy.choose(None, None, candidates) is candidates
