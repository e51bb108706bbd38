"""Pure rules of the review service: input shapes, departments, status ordering."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from marshmallow import ValidationError

from services.review.accounts.schemas import NewUser
from services.review.applications.events import _apply_status
from services.review.applications.models import Application
from services.review.applications.schemas import ListArgs, clean_args
from services.review.decisions.schemas import DecisionIn, ReleaseIn
from services.review.departments import DEPARTMENT_CODES, DEPARTMENTS

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=timezone.utc)


def test_the_five_departments_of_the_call():
    assert DEPARTMENT_CODES == ("polsci", "comms", "finance", "it", "hr")
    assert DEPARTMENTS["it"] == "Information technology and cybersecurity"


@pytest.mark.parametrize("password, ok", [("elevenchars", False), ("twelve chars", True)])
def test_new_user_password_needs_twelve_characters(password, ok):
    payload = {"email": "a@example.org", "password": password, "role": "reviewer"}
    if ok:
        assert NewUser().load(payload)["departments"] == []
    else:
        with pytest.raises(ValidationError) as info:
            NewUser().load(payload)
        assert "password" in info.value.messages


def test_new_user_rejects_unknown_role_and_department():
    with pytest.raises(ValidationError) as info:
        NewUser().load({"email": "a@example.org", "password": "x" * 12, "role": "owner", "departments": ["it", "x"]})
    assert set(info.value.messages) == {"role", "departments"}


@pytest.mark.parametrize("decision", ["shortlisted", "reserve", "rejected"])
def test_decision_accepts_the_three_outcomes(decision):
    assert DecisionIn().load({"decision": decision}) == {"decision": decision, "reason_code": None, "note": None}


@pytest.mark.parametrize("payload", [{"decision": "accepted"}, {"decision": "rejected", "reason_code": "Bad Code"},
                                     {"decision": "rejected", "extra": 1}, {}])
def test_decision_rejects_bad_input(payload):
    with pytest.raises(ValidationError):
        DecisionIn().load(payload)


def test_release_needs_at_least_one_reference():
    with pytest.raises(ValidationError):
        ReleaseIn().load({"references": []})


def test_empty_filters_mean_no_filter():
    loaded = ListArgs().load(clean_args({"status": "", "department": "", "q": "", "page": "2"}))
    assert {k: loaded[k] for k in ("status", "department", "q", "page")} == \
        {"status": None, "department": None, "q": None, "page": 2}


def test_a_later_status_wins_and_an_earlier_one_is_ignored():
    application = Application(reference="NIP27-1")
    assert _apply_status(application, "under_review", T0)
    assert not _apply_status(application, "submitted", T0 - timedelta(minutes=1))
    assert application.status == "under_review"
    assert _apply_status(application, "withdrawn", T0 + timedelta(minutes=1))
    assert (application.status, application.status_at) == ("withdrawn", T0 + timedelta(minutes=1))
