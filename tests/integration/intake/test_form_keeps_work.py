"""The form keeps what was typed (issue 19, item 3): files accepted by a refused form are held for the next try,
the consent stays ticked, each error names its field and document, the summary follows the form, and "Save as a
draft" asks for the email alone."""
from __future__ import annotations

import io
import re
from datetime import timedelta

from sqlalchemy import func, select, update

from services.intake.access import service as access_service
from services.intake.access.models import HeldUpload
from services.intake.access.tasks import purge_old_drafts
from services.intake.applications.models import Application
from services.intake.privacy.erasure import referenced_keys
from services.intake.programme.defaults import NIP_2027
from services.intake.programme.service import seed_call
from shared.db import utcnow
from shared.documents import DocumentStore
from tests.factories import make_pdf
from tests.integration.intake.test_pages import csrf_token, filled_form, text

SHORT = "Too short."


def post(client, form):
    return client.post("/apply", data=form, content_type="multipart/form-data")


def held_ids(page: str) -> dict[str, str]:
    return dict(re.findall(r'<input type="hidden" name="held\.([a-z_]+)" value="([^"]+)">', page))


def summary_targets(page: str) -> list[str]:
    summary = page.split('class="error-summary"')[1].split("</div>")[0]
    return re.findall(r'<a href="#([^"]+)">', summary)


def without_files(form: dict) -> dict:
    return {name: value for name, value in form.items() if name not in ("cv", "academic_proof",
                                                                        "language_certificate")}


def test_one_mistake_keeps_both_files_and_the_consent_and_names_only_that_mistake(client, session):
    response = post(client, filled_form(client, "en", motivation=SHORT))
    page = text(response)
    assert response.status_code == 422
    assert "The file is empty" not in page
    assert summary_targets(page) == ["motivation"]
    assert "Kept: cv.pdf. Choose a file only to replace it." in page
    assert "Kept: proof.pdf. Choose a file only to replace it." in page
    assert set(held_ids(page)) == {"cv", "academic_proof"}
    # a kept file need not be chosen again
    assert not re.search(r'<input id="cv" name="cv" type="file"[^>]* required', page)
    assert re.search(r'<input id="consent" name="consent" type="checkbox" value="yes" required checked', page)
    assert re.search(r"<title>Error: Apply", page)
    # held in the document store, encrypted as the rest: the plain bytes are nowhere on disk
    assert session.scalar(select(func.count()).select_from(HeldUpload)) == 2


def test_the_error_page_title_is_translated(client):
    page = text(post(client, filled_form(client, "fr", motivation=SHORT)))
    assert re.search(r"<title>Erreur : Postuler", page)
    assert "Conservé : cv.pdf." in page


def test_held_files_are_used_when_the_form_is_sent_again(client, session):
    page = text(post(client, filled_form(client, "en", motivation=SHORT)))
    ids = held_ids(page)
    form = without_files(filled_form(client, "en"))
    form.update({f"held.{kind}": secret for kind, secret in ids.items()})
    response = post(client, form)
    assert response.status_code == 302, text(response)
    application = session.scalars(select(Application)).one()
    assert sorted((d.kind, d.filename) for d in application.documents) == [("academic_proof", "proof.pdf"),
                                                                           ("cv", "cv.pdf")]
    # each id serves once
    assert session.scalar(select(func.count()).select_from(HeldUpload)) == 0


def test_a_file_chosen_again_replaces_the_held_one(client, session):
    page = text(post(client, filled_form(client, "en", motivation=SHORT)))
    form = without_files(filled_form(client, "en"))
    form.update({f"held.{kind}": secret for kind, secret in held_ids(page).items()})
    form["cv"] = (io.BytesIO(make_pdf("A newer CV")), "new-cv.pdf")
    assert post(client, form).status_code == 302
    assert session.scalars(select(Application)).one().document("cv").filename == "new-cv.pdf"


def test_a_guessed_or_used_id_opens_nothing(client):
    page = text(post(client, filled_form(client, "en", motivation=SHORT)))
    ids = held_ids(page)
    guessed = without_files(filled_form(client, "en"))
    guessed.update({"held.cv": "A" * 32, "held.academic_proof": ids["academic_proof"][:-1] + "x"})
    refused = text(post(client, guessed))
    assert summary_targets(refused) == ["cv", "academic_proof"]
    assert "Attach your curriculum vitae." in refused and "Attach your proof of studies or degree." in refused


def test_a_held_file_belongs_to_its_call(app, call, session, settings):
    store = DocumentStore.of(settings)
    upload = access_service.Upload("cv", "cv.pdf", make_pdf("CV"))
    held = access_service.hold_uploads(session=session, call=call, uploads=[upload], store=store)
    other = seed_call(session=session, deadline=settings.call_deadline, template={**NIP_2027, "code": "nip-other"})
    secrets = {"cv": held["cv"].secret}
    assert access_service.take_held_uploads(session=session, call=other, secrets_by_kind=secrets, store=store,
                                            replaced=set()) == []
    [taken] = access_service.take_held_uploads(session=session, call=call, secrets_by_kind=secrets, store=store,
                                               replaced=set())
    assert taken.filename == "cv.pdf" and taken.data == upload.data


def test_a_refused_file_is_not_kept_and_its_error_names_it(client):
    form = filled_form(client, "en", motivation=SHORT)
    form["cv"] = (io.BytesIO(b"not a pdf at all"), "cv.pdf")
    page = text(post(client, form))
    assert summary_targets(page) == ["motivation", "cv"]
    assert "Curriculum vitae: this type of file is not accepted here." in page
    assert set(held_ids(page)) == {"academic_proof"}
    assert "Kept: cv.pdf" not in page and re.search(r'<input id="cv" name="cv" type="file"[^>]* required', page)


def test_each_missing_document_is_named(client):
    form = without_files(filled_form(client, "en"))
    page = text(post(client, form))
    assert summary_targets(page) == ["cv", "academic_proof"]
    assert "Attach this document." not in page
    assert "Attach your curriculum vitae." in page and "Attach your proof of studies or degree." in page


def test_the_error_summary_follows_the_forms_order(client):
    form = without_files(filled_form(client, "en", consent="", email="nope", given_name="", motivation=SHORT,
                                     session="", department1="", **{"languages.en": "",
                                                                    "education.institution": ""}))
    page = text(post(client, form))
    assert summary_targets(page) == ["given_name", "email", "languages.en", "education.institution", "department1",
                                     "session", "motivation", "cv", "academic_proof", "consent"]


def test_a_draft_without_an_email_asks_for_the_email_alone(client, session):
    form = {"given_name": "Lena", "motivation": SHORT, "lang": "en", "action": "save_draft",
            "csrf_token": csrf_token(client, "en"), "cv": (io.BytesIO(make_pdf("CV")), "cv.pdf")}
    response = post(client, form)
    page = text(response)
    assert response.status_code == 422
    assert summary_targets(page) == ["email"]
    assert "Enter an email address, like name@example.org." in page
    # the file sent with it is kept for the next try
    assert "Kept: cv.pdf." in page


def test_held_files_are_purged_after_a_day_and_their_files_kept_until_then(client, session):
    post(client, filled_form(client, "en", motivation=SHORT))
    keys = set(session.scalars(select(HeldUpload.key)))
    assert len(keys) == 2 and keys <= referenced_keys(session=session)
    purge_old_drafts()
    assert session.scalar(select(func.count()).select_from(HeldUpload)) == 2
    session.execute(update(HeldUpload).values(created_at=utcnow() - timedelta(days=1, minutes=1)))
    purge_old_drafts()
    assert session.scalar(select(func.count()).select_from(HeldUpload)) == 0
