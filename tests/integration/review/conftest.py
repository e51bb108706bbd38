"""Review fixtures: a migrated PostgreSQL database, an app per test in a rolled-back transaction,
and factories for users and events."""
from __future__ import annotations

import dataclasses
import re
from datetime import date, datetime, timedelta, timezone

import pytest

from tests.conftest import migrated_database, rolled_back
from services.review import create_app
from services.review.accounts.service import create_user
from services.review.applications.tasks import handle_event
from services.review.db import db
from shared.events import make_event, sign_event

PASSWORD = "a long enough password"
ADMIN = "admin@example.org"


@pytest.fixture(scope="session")
def review_database_url() -> str:
    return migrated_database("review")


@pytest.fixture
def review_settings(settings, review_database_url):
    return dataclasses.replace(settings, review_database_url=review_database_url)


@pytest.fixture
def app(review_settings):
    app = create_app(review_settings)
    app.config["TESTING"] = True
    with rolled_back(db):
        yield app


@pytest.fixture
def make_user(app):
    def _make(email: str, *, role: str = "reviewer", departments=("it",), password: str = PASSWORD):
        with app.app_context():
            user = create_user(session=db.session, email=email, password=password, role=role,
                               departments=list(departments))
            db.session.commit()
            return user.id
    return _make


@pytest.fixture
def admin(make_user):
    make_user(ADMIN, role="admin", departments=())
    return ADMIN


def token_for(client, email: str, password: str = PASSWORD) -> str:
    response = client.post("/api/v1/auth/token", json={"email": email, "password": password})
    assert response.status_code == 200, response.get_json()
    return response.get_json()["token"]


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def api(app, admin):
    """Headers for the admin's API calls."""
    return bearer(token_for(app.test_client(), admin))


def csrf_token(html: str) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)


def login(client, email: str, password: str = PASSWORD):
    token = csrf_token(client.get("/login").get_data(as_text=True))
    return client.post("/login", data={"email": email, "password": password, "csrf_token": token})


T0 = datetime(2026, 11, 2, 9, 0, tzinfo=timezone.utc)


def envelope(event_type: str, data: dict, *, at: datetime | None = None) -> dict:
    event = make_event(event_type, data, producer="intake")
    if at is not None:
        event["occurred_at"] = at.isoformat()
        sign_event(event)  # signed again after the change, as its producer would have
    return event


def submitted(reference: str, *, departments=("it",), given_name="Ana", family_name="Petrova",
              at: datetime = T0) -> dict:
    return envelope("application.submitted", {
        "reference": reference, "departments": list(departments), "submitted_at": at,
        "applicant": {"given_name": given_name, "family_name": family_name, "nationality": "BG",
                      "date_of_birth": date(2002, 5, 17), "session": "september",
                      "education": {"institution": "Sofia University", "degree_level": "master",
                                    "field_of_study": "Computer science", "status": "enrolled",
                                    "year_of_study": 4},
                      "languages": {"en": "C1", "fr": "B1"}, "correspondence_language": "en"},
    }, at=at)


def status_changed(reference: str, new: str, *, old: str | None = "checking", at: datetime = T0,
                   name: str = "Ana Petrova") -> dict:
    return envelope("application.status_changed", {
        "reference": reference, "old": old, "new": new, "reason": None,
        "email": "ana@example.org", "name": name, "language": "en"}, at=at)


def checked(reference: str, *, eligible=True, complete=True, problems=(), at: datetime = T0) -> dict:
    return envelope("application.checked", {"reference": reference, "eligible": eligible,
                                            "complete": complete, "problems": list(problems)}, at=at)


def dossier_rendered(reference: str, *, key: str = "dossiers/nip-0001.pdf", pages: int = 3,
                     sha256: str = "ab" * 32, at: datetime = T0) -> dict:
    return envelope("dossier.rendered", {"reference": reference, "dossier_key": key, "pages": pages,
                                         "sha256": sha256}, at=at)


@pytest.fixture
def deliver(app):
    """Hand envelopes to the review.handle_event task, as a worker would."""
    def _deliver(*envelopes) -> list[bool]:
        return [handle_event(e) for e in envelopes]
    return _deliver


@pytest.fixture
def under_review(deliver):
    """An application submitted to `departments` and now under review."""
    def _make(reference: str, *, departments=("it",), given_name="Ana", family_name="Petrova",
              at: datetime = T0):
        deliver(submitted(reference, departments=departments, given_name=given_name,
                          family_name=family_name, at=at),
                status_changed(reference, "under_review", at=at + timedelta(minutes=5)))
        return reference
    return _make


def page_csrf_token(client) -> str:
    """The CSRF token of a signed-in page (the sign-out form carries one)."""
    return csrf_token(client.get("/applications").get_data(as_text=True))


def signed_in(app, email: str, password: str = PASSWORD):
    """A test client with a browser session for `email`."""
    client = app.test_client()
    response = login(client, email, password)
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


def token_pair(client, email: str, password: str = PASSWORD) -> dict:
    response = client.post("/api/v1/auth/token", json={"email": email, "password": password})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


@pytest.fixture
def user_id(app):
    """The id of the user with this email."""
    def _id(email: str) -> int:
        from services.review.accounts.models import User
        from sqlalchemy import select
        with app.app_context():
            return db.session.scalar(select(User.id).where(User.email == email))
    return _id
