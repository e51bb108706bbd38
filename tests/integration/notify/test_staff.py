"""Staff side of notify: the delivery log scoped per role, template previews, the reviewers' daily digest."""
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.notify.db import Base, db
from shared.db import make_engine
from services.notify.deliveries.models import Delivery
from services.notify.deliveries.tasks import handle_event
from services.notify.staff.models import ApplicationDepartment, Assignment
from services.notify.staff.service import record_departments
from services.notify.staff.tasks import send_digests
from tests.integration.notify.conftest import make_review_assigned, make_review_unassigned, staff_token_headers


@pytest.fixture
def two_applications(app, mail_server, status_changed):
    """NIP27-SCO001 (department ACO, assigned to reviewer 7) and NIP27-SCO002 (ACT, nobody's)."""
    handle_event.run(status_changed(reference="NIP27-SCO001", departments=["ACO"]))
    handle_event.run(status_changed(reference="NIP27-SCO002", departments=["ACT", "JFC"]))
    handle_event.run(make_review_assigned(reference="NIP27-SCO001", reviewer_id=7))


def departments_of(session, reference) -> list[str]:
    return sorted(session.scalars(select(ApplicationDepartment.department)
                                  .where(ApplicationDepartment.reference == reference)))


def test_an_applications_departments_are_those_of_its_latest_status_change(app, mail_server, status_changed):
    handle_event.run(status_changed(reference="NIP27-DEP001", departments=["ACO", "ACT"]))
    handle_event.run(status_changed(reference="NIP27-DEP002", departments=["ACO"]))
    handle_event.run(status_changed(reference="NIP27-DEP001", new="shortlisted", departments=["ACT", "JFC", "ACT"]))

    assert departments_of(db.session, "NIP27-DEP001") == ["ACT", "JFC"]
    assert departments_of(db.session, "NIP27-DEP002") == ["ACO"]
    handle_event.run(status_changed(reference="NIP27-DEP002", new="shortlisted", departments=[]))
    assert departments_of(db.session, "NIP27-DEP002") == []


def test_departments_are_kept_the_same_way_in_embedded_mode(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'notify.db'}")
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        def record(departments):
            record_departments(session=session, event={"data": {"reference": "NIP27-DEP001",
                                                                "departments": departments}})
            session.commit()
            return departments_of(session, "NIP27-DEP001")

        assert record(["ACO", "ACT"]) == ["ACO", "ACT"]
        assert record(["ACT", "JFC", "ACT"]) == ["ACT", "JFC"]
        assert record([]) == []
    engine.dispose()


def references(client, headers, **query):
    response = client.get("/api/v1/notifications", headers=headers, query_string=query)
    assert response.status_code == 200
    return sorted(row["reference"] for row in response.json["items"])


@pytest.mark.parametrize(("role", "user_id", "departments", "visible"), [
    ("admin", 1, (), ["NIP27-SCO001", "NIP27-SCO002"]),
    ("coordinator", 2, ("ACT",), ["NIP27-SCO002"]),
    ("coordinator", 3, ("ACO", "JFC"), ["NIP27-SCO001", "NIP27-SCO002"]),
    ("reviewer", 7, ("ACT",), ["NIP27-SCO001"]),
    ("reviewer", 8, ("ACO",), []),
])
def test_each_role_reads_only_the_emails_of_applications_it_may_read(
        client, notify_settings, two_applications, role, user_id, departments, visible):
    headers = staff_token_headers(notify_settings, role=role, user_id=user_id, departments=departments)

    assert references(client, headers) == visible


def test_reviewer_asking_for_an_unassigned_reference_gets_nothing(client, notify_settings, two_applications):
    headers = staff_token_headers(notify_settings, role="reviewer", user_id=7)

    response = client.get("/api/v1/notifications", headers=headers, query_string={"reference": "NIP27-SCO002"})

    assert (response.json["items"], response.json["total"]) == ([], 0)
    assert references(client, headers, reference="NIP27-SCO001") == ["NIP27-SCO001"]


def test_failed_filter_lists_only_failed_deliveries(client, notify_settings, app, status_changed, two_applications):
    handle_event.run(status_changed(reference="NIP27-SCO003", new="checking"))  # no template: failed
    headers = staff_token_headers(notify_settings, role="admin", user_id=1)

    assert references(client, headers, state="failed") == ["NIP27-SCO003"]
    assert client.get("/api/v1/notifications?state=lost", headers=headers).status_code == 422


def test_template_previews_are_for_admins_and_cover_every_template_in_both_languages(client, notify_settings):
    reviewer = client.get("/api/v1/templates", headers=staff_token_headers(notify_settings, role="reviewer"))
    assert reviewer.status_code == 403

    body = client.get("/api/v1/templates", headers=staff_token_headers(notify_settings, role="admin")).json
    assert body["problems"] == []
    pairs = {(item["template"], item["language"]) for item in body["items"]}
    assert {("rejected", "fr"), ("access_erasure", "en"), ("digest", "fr")} <= pairs
    assert len(pairs) == len(body["items"]) == 2 * 13
    rejected = next(item for item in body["items"] if item["template"] == "rejected" and item["language"] == "en")
    assert rejected["sample"]["reference"] in rejected["subject"]
    assert rejected["sample"]["link"] in rejected["text"] and "<html" in rejected["html"]


def digests(inbox):
    return {mail["To"]: mail for mail in inbox() if "X-Application-Reference" not in mail}


def test_digest_groups_each_reviewers_new_assignments_in_their_language(app, mail_server, inbox_of):
    for reference in ("NIP27-DIG001", "NIP27-DIG002", "NIP27-DIG003"):
        handle_event.run(make_review_assigned(reference=reference, reviewer_id=7, email="seven@example.org"))
    french = make_review_assigned(reference="NIP27-DIG002", reviewer_id=9, email="neuf@example.org", language="fr")
    handle_event.run(french)
    handle_event.run(french)  # redelivered: still one assignment

    assert send_digests.run() == 2

    mails = digests(inbox_of)
    assert set(mails) == {"seven@example.org", "neuf@example.org"}
    assert mails["seven@example.org"]["Subject"] == "3 new applications to review"
    text = mails["seven@example.org"].get_body(("plain",)).get_content()
    assert all(f"/applications/NIP27-DIG00{i}" in text for i in (1, 2, 3))
    assert mails["neuf@example.org"]["Subject"] == "1 nouvelle candidature à évaluer"
    assert "NIP27-DIG002" in mails["neuf@example.org"].get_body(("plain",)).get_content()


def test_digest_lists_only_what_is_new_and_sends_nothing_when_nothing_is(app, mail_server, inbox_of):
    handle_event.run(make_review_assigned(reference="NIP27-NEW001", reviewer_id=7))
    send_digests.run()
    assert send_digests.run() == 0  # beat ran twice: nothing new, no email
    assert len(inbox_of()) == 1

    handle_event.run(make_review_assigned(reference="NIP27-NEW002", reviewer_id=7))
    send_digests.run()

    latest = inbox_of()[-1].get_body(("plain",)).get_content()
    assert "NIP27-NEW002" in latest and "NIP27-NEW001" not in latest
    rows = db.session.scalars(select(Delivery).where(Delivery.kind == "staff")).all()
    assert [(row.state, row.reference, row.template) for row in rows] == [("sent", None, "digest/en")] * 2


def test_an_assignment_taken_back_leaves_the_reviewers_scope_and_digest(client, notify_settings, app, mail_server,
                                                                        inbox_of, two_applications):
    seven = staff_token_headers(notify_settings, role="reviewer", user_id=7)
    handle_event.run(make_review_assigned(reference="NIP27-SCO002", reviewer_id=7))
    handle_event.run(make_review_unassigned(reference="NIP27-SCO001", reviewer_id=7))

    assert references(client, seven) == ["NIP27-SCO002"]
    assert send_digests.run() == 1
    text = inbox_of()[-1].get_body(("plain",)).get_content()
    assert "NIP27-SCO002" in text and "NIP27-SCO001" not in text


def test_an_assignment_made_again_after_it_was_taken_back_stays(app):
    first = make_review_assigned(reference="NIP27-AGN001", reviewer_id=7)
    taken_back = make_review_unassigned(reference="NIP27-AGN001", reviewer_id=7, reason="replaced")
    again = make_review_assigned(reference="NIP27-AGN001", reviewer_id=7)
    for event in (first, again, taken_back):  # the one taking back delivered last
        handle_event.run(event)
    kept = db.session.scalars(select(Assignment.event_id).where(Assignment.reference == "NIP27-AGN001")).all()
    assert kept == [again["id"]]
