"""Choosing reviewers: first preference first, least open load first, nobody twice."""
from __future__ import annotations

from collections import Counter
from types import SimpleNamespace

from services.review.reviews.service import pick_reviewers


def reviewer(id_: int, *departments: str):
    return SimpleNamespace(id=id_, departments=list(departments))


def test_least_loaded_reviewers_of_the_first_preference_are_chosen():
    team = [reviewer(1, "it"), reviewer(2, "it"), reviewer(3, "it"), reviewer(4, "hr")]
    picked = pick_reviewers(departments=["it", "hr"], reviewers=team, loads={1: 5, 2: 0, 3: 1, 4: 0},
                            exclude=set(), count=2)
    assert [(r.id, d) for r, d in picked] == [(2, "it"), (3, "it")]


def test_later_preferences_fill_what_the_first_cannot_and_nobody_comes_twice():
    team = [reviewer(1, "it", "hr"), reviewer(2, "hr")]
    picked = pick_reviewers(departments=["it", "hr"], reviewers=team, loads={}, exclude=set(), count=3)
    assert [(r.id, d) for r, d in picked] == [(1, "it"), (2, "hr")]


def test_those_already_assigned_are_left_out():
    team = [reviewer(1, "it"), reviewer(2, "it"), reviewer(3, "it")]
    picked = pick_reviewers(departments=["it"], reviewers=team, loads={}, exclude={1, 2}, count=1)
    assert [r.id for r, _ in picked] == [3]


def test_assigning_many_applications_in_turn_spreads_the_load_evenly():
    team = [reviewer(i, "it") for i in range(1, 6)]
    loads: Counter = Counter()
    for _ in range(50):
        for chosen, _department in pick_reviewers(departments=["it"], reviewers=team, loads=loads, exclude=set(),
                                                  count=2):
            loads[chosen.id] += 1
    assert set(loads.values()) == {20}
