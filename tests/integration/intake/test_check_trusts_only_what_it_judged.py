"""The application's check judges a stored document again only when it must: bytes this inspector already
accepted on arrival (same digest, same inspector, rule still met) are trusted; a changed file, a document
judged by an older inspector, or a rule made stricter since, is judged again."""
from __future__ import annotations

import hashlib

from sqlalchemy import select

from services.intake.applications.models import Application
from services.intake.applications.tasks import check_application
from services.intake.documents.inspect import INSPECTOR
from services.intake.programme.service import forget_open_call
from shared.documents import DocumentStore
from tests import hostile
from tests.factories import multipart


def submitted(client, session, pdf, proof) -> Application:
    created = client.post("/api/v1/applications", data=multipart(cv=pdf, academic_proof=proof),
                          content_type="multipart/form-data").get_json()
    return session.scalars(select(Application).where(Application.reference == created["reference"])).one()


def plant(session, settings, application, kind: str, data: bytes, *, inspected_by: str | None) -> None:
    """Put `data` in the store behind `kind` and make the database record describe exactly those bytes."""
    document = application.document(kind)
    DocumentStore.of(settings).put_at(document.key, data)  # encrypted, as the store writes
    document.sha256, document.size, document.inspected_by = hashlib.sha256(data).hexdigest(), len(data), inspected_by
    session.commit()


def test_documents_are_recorded_with_the_inspector_that_accepted_them(client, session, pdf, proof):
    application = submitted(client, session, pdf, proof)
    assert {d.inspected_by for d in application.documents} == {INSPECTOR}
    assert check_application.run(application.reference) == "under_review"


def test_a_document_judged_by_an_older_inspector_is_judged_again(client, session, settings, pdf, proof):
    application = submitted(client, session, pdf, proof)
    plant(session, settings, application, "academic_proof", hostile.launch_inside_chain(), inspected_by="2020-01-01")
    assert check_application.run(application.reference) == "incomplete"
    assert [p["code"] for p in application.problems] == ["document_active_content"]


def test_a_document_never_recorded_as_inspected_is_judged_again(client, session, settings, pdf, proof):
    application = submitted(client, session, pdf, proof)
    plant(session, settings, application, "academic_proof", hostile.xfa_form(), inspected_by=None)
    assert check_application.run(application.reference) == "incomplete"


def test_the_same_bytes_accepted_by_this_inspector_are_not_judged_twice(client, session, settings, pdf, proof):
    # only a forged record can claim this inspector accepted hostile bytes: trusting it shows the check
    # really skips the second judgement (the case above shows it still judges whatever it must)
    application = submitted(client, session, pdf, proof)
    plant(session, settings, application, "academic_proof", hostile.launch_inside_chain(), inspected_by=INSPECTOR)
    assert check_application.run(application.reference) == "under_review"


def test_a_file_changed_in_the_store_is_judged_again(client, session, settings, pdf, proof):
    application = submitted(client, session, pdf, proof)
    document = application.document("academic_proof")
    DocumentStore.of(settings).put_at(document.key, hostile.launch_inside_chain())  # record left as it was
    assert check_application.run(application.reference) == "incomplete"


def test_an_unencrypted_file_put_in_place_of_a_stored_one_is_never_judged(client, session, settings, pdf, proof):
    application = submitted(client, session, pdf, proof)
    document = application.document("academic_proof")
    (settings.documents_dir / document.key).write_bytes(proof)  # acceptable bytes, but not written by the store

    assert check_application.run(application.reference) == "incomplete"
    assert [p["code"] for p in application.problems] == ["document_unavailable"]


def test_a_rule_made_stricter_after_the_upload_applies_at_the_check(client, session, call, pdf, proof):
    application = submitted(client, session, pdf, proof)
    assert application.document("cv").pages == 2
    call.documents = [{**rule, "max_pages": 1} if rule["kind"] == "cv" else rule for rule in call.documents]
    session.commit()
    forget_open_call()
    assert check_application.run(application.reference) == "incomplete"
    assert [p["code"] for p in application.problems] == ["document_too_many_pages"]
