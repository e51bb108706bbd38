"""The applicant's data in one zip (portability and right of access): the application as JSON, every document
as uploaded, the dossier(s), the status history, and who among staff viewed it (from review's access log)."""
from __future__ import annotations

import io
import json
import re
import zipfile

import requests
from flask_babel import force_locale
from sqlalchemy.orm import object_session

from services.intake.applications.models import Application
from services.intake.applications.words import CHECK_OUTCOMES, problem_sentence, reason_sentences
from services.intake.privacy.erasure import dossier_files
from services.intake.programme.models import Call
from shared.config import Settings
from shared.documents import DocumentStore, DocumentTampered
from shared.web import ApiError

ACCESS_LOG_TIMEOUT = 10.0
# who changed the status, as the export names them: staff act for the programme office, and which member of
# staff it was is a third party's personal data, not the applicant's (docs/security.md, "Personal data")
STAFF_ACTOR = "programme office"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def application_record(application: Application) -> dict:
    """Everything intake holds about the applicant, as plain JSON (the check's problems with their words)."""
    call = _call(application)
    with force_locale(application.correspondence_language):
        problems = [{**problem, "words": problem_sentence(problem, call)} for problem in application.problems or ()]
    return {
        "reference": application.reference, "status": application.status,
        "given_name": application.given_name, "family_name": application.family_name,
        "email": application.email, "date_of_birth": application.date_of_birth.isoformat(),
        "nationality": application.nationality, "languages": application.languages,
        "education": application.education, "departments": application.departments,
        "session": application.session, "motivation": application.motivation,
        "correspondence_language": application.correspondence_language,
        "consent": {"at": application.consent_at.isoformat(), "notice_version": application.consent_version,
                    "notice_sha256": application.consent_sha256},
        "submitted_at": application.submitted_at.isoformat() if application.submitted_at else None,
        "problems": problems,
        "documents": [{"kind": d.kind, "filename": d.filename, "media_type": d.media_type, "size": d.size,
                       "pages": d.pages, "sha256": d.sha256, "uploaded_at": d.uploaded_at.isoformat(),
                       "file": document_name(d.kind, d.filename)} for d in application.documents],
    }


def history_record(application: Application) -> list[dict]:
    """The status history: each decision and its reason (an evaluation of the applicant is their data), in words
    where intake has them (its check's) beside the code, and staff named by role, never by who they are."""
    call = _call(application)
    with force_locale(application.correspondence_language):
        return [{"old": h.old, "new": h.new, "reason": h.reason,
                 "reason_words": reason_sentences(application, call, h.reason) if h.new in CHECK_OUTCOMES else [],
                 "by": actor_name(h.actor), "at": h.at.isoformat()} for h in application.history]


def actor_name(actor: str) -> str:
    """Who changed the status, for the applicant: themselves, intake's check, or the programme office."""
    return STAFF_ACTOR if actor.startswith("review:") else actor


def _call(application: Application) -> Call:
    return object_session(application).get_one(Call, application.call_id)  # type: ignore[union-attr]


def document_name(kind: str, filename: str) -> str:
    """The zip entry of an uploaded document: its kind and its own name, made safe for any unzip tool."""
    return f"documents/{kind}-{_UNSAFE.sub('_', filename).strip('._')[:100] or kind}"


def fetch_access_log(settings: Settings, reference: str) -> list[dict]:
    """Who among staff viewed the application, its dossier, documents or export, from review's audit log."""
    base = (settings.review_internal_url or settings.review_url).rstrip("/")
    try:
        response = requests.get(f"{base}/internal/v1/access-log/{reference}", timeout=ACCESS_LOG_TIMEOUT,
                                headers={"Authorization": f"Bearer {settings.privacy_api_key}"})
        response.raise_for_status()
        return response.json()["items"]
    except (requests.RequestException, ValueError, KeyError):
        raise ApiError(503, "access_log_unavailable",
                       "The record of who viewed this application cannot be read right now; try again later.") from None


def build_export(*, application: Application, store: DocumentStore, access_log: list[dict] | None) -> bytes:
    """The zip; `access_log=None` leaves the log out (review adds its own when it builds an admin export)."""
    try:
        return _zip(application=application, store=store, access_log=access_log)
    except DocumentTampered:  # altered, or a file without encryption put in its place (shared/documents.py)
        raise ApiError(409, "document_refused", "A stored document failed its integrity check, so the export "
                                                "cannot be complete; the programme office has been told.") from None


def _zip(*, application: Application, store: DocumentStore, access_log: list[dict] | None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("application.json", json.dumps(application_record(application), indent=2,
                                                        ensure_ascii=False, default=str))
        archive.writestr("history.json", json.dumps(history_record(application), indent=2, ensure_ascii=False))
        for document in application.documents:
            if store.exists(document.key):
                archive.writestr(document_name(document.kind, document.filename), store.read(document.key))
        for name, key in dossier_files(application).items():
            if store.exists(key):
                archive.writestr(name, store.read(key))
        if access_log is not None:
            archive.writestr("access_log.json", json.dumps(access_log, indent=2, ensure_ascii=False))
    return buffer.getvalue()
