import pytest

from services.intake.applications.status import CANDIDATE_VISIBLE, TRANSITIONS, can_change

FINAL = {"shortlisted", "reserve", "rejected", "withdrawn"}


@pytest.mark.parametrize("path", [
    ["submitted", "checking", "under_review", "shortlisted"],
    ["submitted", "checking", "incomplete", "checking", "under_review", "rejected"],
    ["submitted", "checking", "ineligible"],
    ["submitted", "checking", "under_review", "withdrawn"],
])
def test_lifecycle_paths_are_allowed(path):
    old = None
    for new in path:
        assert can_change(old, new), f"{old} -> {new}"
        old = new


@pytest.mark.parametrize("old, new", [
    ("submitted", "under_review"), ("checking", "shortlisted"), ("incomplete", "under_review"),
    ("shortlisted", "rejected"), ("rejected", "withdrawn"), ("withdrawn", "submitted"), ("ineligible", "checking"),
])
def test_illegal_transitions_are_refused(old, new):
    assert not can_change(old, new)


def test_withdrawal_is_possible_before_any_released_decision_only():
    for status in TRANSITIONS:
        if status not in FINAL and status is not None:
            assert can_change(status, "withdrawn"), status
    for status in FINAL:
        assert not can_change(status, "withdrawn")


def test_checking_is_not_announced_to_candidates():
    assert "checking" not in CANDIDATE_VISIBLE and "draft" not in CANDIDATE_VISIBLE
    assert {"submitted", "under_review", "shortlisted", "withdrawn"} <= CANDIDATE_VISIBLE
