"""The audit log: every sign-in, view of personal data, decision, release and user change; never edited."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from services.review.audit.models import AuditEntry, AuditLogIsAppendOnly
from services.review.audit.service import views_of
from services.review.db import db
from shared.db import utcnow

from .conftest import ADMIN, bearer, signed_in, token_for


def actions(app) -> list[tuple[str, str, str | None]]:
    with app.app_context():
        return [(e.actor, e.action, e.reference)
                for e in db.session.scalars(select(AuditEntry).order_by(AuditEntry.id))]


def test_sign_ins_views_exports_decisions_releases_and_user_changes_are_logged(app, api, make_user,
                                                                                under_review):
    under_review("NIP27-0601")
    client = app.test_client()
    client.get("/api/v1/applications/NIP27-0601", headers=api)
    client.post("/api/v1/applications/NIP27-0601/decision", headers=api,
                json={"decision": "shortlisted", "reason_code": "strong_profile"})
    client.post("/api/v1/decisions/release", headers=api, json={"references": ["NIP27-0601"]})
    client.get("/api/v1/applications.csv?department=it", headers=api).get_data()
    created = client.post("/api/v1/users", headers=api, json={"email": "new@example.org", "role": "reviewer",
                                                               "password": "a long enough password",
                                                               "departments": ["it"]})
    client.patch(f"/api/v1/users/{created.get_json()['id']}", headers=api, json={"active": False})
    browser = signed_in(app, ADMIN)
    browser.get("/applications/NIP27-0601")
    logged = actions(app)
    assert (ADMIN, "login", None) in logged
    for expected in [(ADMIN, "application.viewed", "NIP27-0601"), (ADMIN, "decision.recorded", "NIP27-0601"),
                     (ADMIN, "decision.released", "NIP27-0601"), (ADMIN, "applications.exported", None),
                     (ADMIN, "user.created", None), (ADMIN, "user.updated", None)]:
        assert expected in logged, expected
    assert [a for a in logged if a[1] == "login"] == [(ADMIN, "login", None)] * 2  # token, then the page
    with app.app_context():
        views = views_of(session=db.session, reference="NIP27-0601")
    assert [(v.action, v.details["via"]) for v in views] == [("application.viewed", "api"),
                                                             ("application.viewed", "page")]


def test_the_log_refuses_changes_in_the_orm_and_in_the_database(app, admin):
    with app.app_context():
        entry = AuditEntry(actor=ADMIN, action="login", details={})
        db.session.add(entry)
        db.session.commit()
        entry.action = "nothing.happened"
        with pytest.raises(AuditLogIsAppendOnly):
            db.session.flush()
        db.session.rollback()
        db.session.delete(db.session.get(AuditEntry, entry.id))
        with pytest.raises(AuditLogIsAppendOnly):
            db.session.flush()
        db.session.rollback()
        for statement in ("UPDATE audit_entries SET actor = 'someone@else.org'", "DELETE FROM audit_entries"):
            with pytest.raises(DBAPIError, match="append-only"):
                with db.session.begin_nested():
                    db.session.execute(text(statement))
        assert db.session.get(AuditEntry, entry.id).action == "login"


def test_admin_page_filters_by_actor_action_reference_and_date(app, api, make_user, under_review):
    make_user("other-admin@example.org", role="admin", departments=())
    under_review("NIP27-0611")
    under_review("NIP27-0612")
    client = app.test_client()
    other = bearer(token_for(client, "other-admin@example.org"))
    client.get("/api/v1/applications/NIP27-0611", headers=api)
    client.get("/api/v1/applications/NIP27-0612", headers=other)
    browser = signed_in(app, ADMIN)
    page = browser.get("/audit?action=application.viewed").get_data(as_text=True)
    assert "NIP27-0611" in page and "NIP27-0612" in page and "2 entries" in page
    mine = browser.get("/audit?actor=other-admin@example.org&action=application.viewed").get_data(as_text=True)
    assert "NIP27-0612" in mine and "NIP27-0611" not in mine
    by_reference = browser.get("/audit", query_string={"reference": "nip27-0611"}).get_data(as_text=True)
    assert "NIP27-0611" in by_reference and "NIP27-0612" not in by_reference
    today = utcnow().date()
    assert "NIP27-0611" in browser.get(f"/audit?since={today}&until={today}").get_data(as_text=True)
    yesterday = today - timedelta(days=1)
    assert "No entry matches" in browser.get(f"/audit?until={yesterday}").get_data(as_text=True)
    assert browser.get(f"/audit?since={today}&until={yesterday}").status_code == 400
    api_page = client.get("/api/v1/audit?reference=NIP27-0612", headers=api).get_json()
    assert [(e["actor"], e["action"]) for e in api_page["items"]] == [("other-admin@example.org",
                                                                       "application.viewed")]


def test_audit_page_is_paginated(app, admin):
    with app.app_context():
        db.session.add_all([AuditEntry(actor=ADMIN, action="application.viewed", reference=f"NIP27-{n:04d}",
                                       details={}, at=utcnow() - timedelta(seconds=n)) for n in range(150)])
        db.session.commit()
    browser = signed_in(app, ADMIN)
    first = browser.get("/audit?action=application.viewed").get_data(as_text=True)
    assert "Page 1 of 2" in first and "NIP27-0000" in first and "NIP27-0149" not in first
    assert 'href="/audit?page=2&amp;action=application.viewed"' in first
    assert "NIP27-0149" in browser.get("/audit?action=application.viewed&page=2").get_data(as_text=True)


@pytest.mark.parametrize("role", ["reviewer", "coordinator"])
def test_only_admins_read_the_log(app, admin, make_user, role):
    make_user(f"{role}@example.org", role=role, departments=["it"])
    client = app.test_client()
    assert client.get("/api/v1/audit", headers=bearer(token_for(client, f"{role}@example.org"))).status_code == 403
    assert signed_in(app, f"{role}@example.org").get("/audit").status_code == 403
    assert app.test_client().get("/api/v1/audit").status_code == 401
