"""The CSV of a filtered list: streamed, same filters and scope as the list, safe to open in a spreadsheet."""
from __future__ import annotations

import csv
import io

from sqlalchemy import select, update

from services.review.applications.models import Application
from services.review.audit.models import AuditEntry
from services.review.db import db

from .conftest import ADMIN, T0, bearer, checked, signed_in, submitted, token_for


def rows(response) -> list[dict]:
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


def test_csv_streams_the_filtered_list_in_its_order(app, api, deliver, under_review):
    under_review("NIP27-0801", departments=["it"], given_name="Ana", family_name="Shortlist")
    under_review("NIP27-0802", departments=["it", "hr"], given_name="Ben", family_name="Higher")
    under_review("NIP27-0803", departments=["hr"])
    deliver(checked("NIP27-0801", eligible=True))
    with app.app_context():
        for reference, score in (("NIP27-0801", 3.5), ("NIP27-0802", 4.25)):
            db.session.execute(update(Application).where(Application.reference == reference).values(score=score))
        db.session.commit()
    response = app.test_client().get("/api/v1/applications.csv?department=it&sort=-score", headers=api)
    assert response.status_code == 200 and response.is_streamed
    assert response.mimetype == "text/csv" and "attachment" in response.headers["Content-Disposition"]
    found = rows(response)
    assert [(r["reference"], r["score"], r["name"]) for r in found] == [("NIP27-0802", "4.25", "Ben Higher"),
                                                                      ("NIP27-0801", "3.50", "Ana Shortlist")]
    assert found[0]["departments"] == ("Information technology and cybersecurity; "
                                       "Human resources and administration")
    assert found[1]["status"] == "Under review" and found[1]["nationality"] == "Bulgaria"
    assert found[1]["eligible"] == "yes"


def test_cells_that_would_run_as_formulas_are_neutralised(app, api, deliver):
    deliver(submitted("NIP27-0811", given_name="=HYPERLINK(\"http://evil.example\")", family_name="X"),
            submitted("NIP27-0812", given_name="@SUM(A1)", family_name="Y", at=T0.replace(hour=10)),
            submitted("NIP27-0813", given_name="+1", family_name="Z", at=T0.replace(hour=11)),
            submitted("NIP27-0814", given_name="-2", family_name="W", at=T0.replace(hour=12)))
    names = {r["reference"]: r["name"] for r in rows(app.test_client().get("/api/v1/applications.csv",
                                                                           headers=api))}
    assert names == {"NIP27-0811": "'=HYPERLINK(\"http://evil.example\") X", "NIP27-0812": "'@SUM(A1) Y",
                     "NIP27-0813": "'+1 Z", "NIP27-0814": "'-2 W"}


def test_csv_keeps_the_callers_scope_and_is_audited(app, admin, make_user, under_review):
    make_user("hr-coordinator@example.org", role="coordinator", departments=["hr"])
    under_review("NIP27-0821", departments=["hr"])
    under_review("NIP27-0822", departments=["polsci"], given_name="Not", family_name="Yours")
    client = app.test_client()
    headers = bearer(token_for(client, "hr-coordinator@example.org"))
    exported = rows(client.get("/api/v1/applications.csv", headers=headers))
    assert [r["reference"] for r in exported] == ["NIP27-0821"]
    assert rows(client.get("/api/v1/applications.csv?department=polsci", headers=headers)) == []
    with app.app_context():
        entries = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "applications.exported")).all()
    assert [(e.actor, e.details["filters"]) for e in entries] == [
        ("hr-coordinator@example.org", {"sort": "-submitted"}),
        ("hr-coordinator@example.org", {"department": "polsci", "sort": "-submitted"})]


def test_csv_from_the_page_takes_the_lists_filters(app, admin, under_review):
    under_review("NIP27-0831", departments=["comms"], given_name="Page", family_name="Export")
    under_review("NIP27-0832", departments=["it"])
    response = signed_in(app, ADMIN).get("/applications.csv?department=comms&q=export")
    assert [r["reference"] for r in rows(response)] == ["NIP27-0831"]
    assert signed_in(app, ADMIN).get("/applications.csv?sort=bogus").status_code == 400


def test_csv_needs_a_signed_in_user_and_valid_filters(app, api):
    client = app.test_client()
    assert client.get("/api/v1/applications.csv").status_code == 401
    assert client.get("/api/v1/applications.csv", headers=bearer("not-a-token")).status_code == 401
    assert client.get("/applications.csv").status_code == 302  # to the sign-in page
    bad = client.get("/api/v1/applications.csv?score_min=9&score_max=1", headers=api)
    assert bad.status_code == 422 and "score_min" in bad.get_json()["error"]["fields"]
