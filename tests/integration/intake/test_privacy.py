"""The privacy notice (versioned, per language), consent recorded with it, and the anonymous statistics."""
from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import select

from services.intake.applications.models import Application
from services.intake.privacy import notice as notices
from tests.factories import application_payload, multipart


def submit(client, pdf, proof, **fields):
    body = client.post("/api/v1/applications", data=multipart(application_payload(**fields), cv=pdf,
                                                                  academic_proof=proof),
                       content_type="multipart/form-data").get_json()
    return body["reference"]


@pytest.fixture
def notice_dir(tmp_path, monkeypatch):
    """A copy of the published notices where a test may publish a new version."""
    folder = tmp_path / "notices"
    for version in notices.versions():
        (folder / version).mkdir(parents=True)
        for lang in notices.LANGUAGES:
            (folder / version / f"{lang}.html").write_bytes((notices.NOTICES / version / f"{lang}.html").read_bytes())
    monkeypatch.setattr(notices, "NOTICES", folder)
    notices.notice.cache_clear()
    yield folder
    notices.notice.cache_clear()


@pytest.mark.parametrize("lang, words", [("en", "How long"), ("fr", "Combien de temps")])
def test_the_notice_says_what_is_kept_why_how_long_and_how_to_erase(client, lang, words):
    page = client.get(f"/privacy?lang={lang}")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and words in text
    assert notices.current_notice(lang).sha256 in text


def test_each_application_records_the_notice_it_agreed_to(client, session, pdf, proof):
    reference = submit(client, pdf, proof, correspondence_language="fr")
    application = session.scalar(select(Application).where(Application.reference == reference))
    published = (notices.NOTICES / application.consent_version / "fr.html").read_bytes()
    assert application.consent_version == notices.current_version()
    assert application.consent_sha256 == hashlib.sha256(published).hexdigest()


def test_a_new_version_leaves_what_earlier_applicants_agreed_to(client, session, pdf, proof, notice_dir):
    before = submit(client, pdf, proof)
    old = notices.current_version()
    new = str(int(old) + 1)
    (notice_dir / new).mkdir()
    for lang in notices.LANGUAGES:
        (notice_dir / new / f"{lang}.html").write_text(f"<p>Version {new} in {lang}: we now keep less.</p>")
    after = submit(client, pdf, proof, email="later@example.org", given_name="Later", family_name="Applicant")

    rows = {a.reference: a for a in session.scalars(select(Application).where(
        Application.reference.in_([before, after])))}
    assert rows[before].consent_version == old and rows[after].consent_version == new
    assert rows[before].consent_sha256 == notices.notice(old, "en").sha256 != rows[after].consent_sha256
    assert "we now keep less" in client.get("/privacy?lang=en").get_data(as_text=True)
    earlier = client.get(f"/privacy?lang=en&version={old}").get_data(as_text=True)
    assert "we now keep less" not in earlier and notices.notice(old, "en").sha256 in earlier
    assert client.get("/privacy?version=99").status_code == 404


def test_statistics_still_count_erased_applications(app, client, pdf, proof):
    key = {"Authorization": f"Bearer {app.config['SETTINGS'].privacy_api_key}"}
    kept = submit(client, pdf, proof, nationality="FR", departments=["it"])
    erased = submit(client, pdf, proof, nationality="PL", departments=["it", "hr"], email="gone@example.org",
                    given_name="Gone", family_name="Soon")
    before = client.get("/internal/v1/privacy/statistics", headers=key).get_json()
    assert client.post(f"/internal/v1/privacy/applications/{erased}/erase", headers=key,
                       json={"reason": "asked by phone"}).status_code == 200

    after = client.get("/internal/v1/privacy/statistics", headers=key).get_json()

    assert kept != erased
    assert after["by"] == before["by"] and after["total"] == before["total"] == 2
    assert after["erased"] == 1
    assert after["by"]["department"] == {"hr": 1, "it": 2}
    assert after["by"]["nationality"] == {"FR": 1, "PL": 1}
    assert after["by"]["status"] == {"submitted": 2}
    assert after["by"]["education_level"] == {"master": 2}
    assert client.get("/internal/v1/privacy/statistics").status_code == 401
