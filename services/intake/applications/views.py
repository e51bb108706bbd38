"""The applicants' API. Thin: parse the request, call one use case, commit, dump."""
from __future__ import annotations

import json
from dataclasses import dataclass

from flask import Blueprint, current_app, request
from sqlalchemy.exc import IntegrityError

from services.intake.access.models import Draft
from services.intake.applications import service
from services.intake.applications.schemas import (ApplicationSchema, ApplicationStatusSchema, SignedOutSchema,
                                                  SubmittedSchema)
from services.intake.db import db
from services.intake.programme.models import Call
from services.intake.portal.service import email_link
from services.intake.programme.service import open_call
from shared.auth import bearer_token
from shared.documents import DocumentStore
from shared.web import ApiError

bp = Blueprint("applications", __name__)
DOCUMENT_KINDS = ("cv", "academic_proof", "language_certificate")
# Real tokens are 43 URL-safe characters; anything far longer or outside ASCII cannot be one.
MAX_TOKEN_LENGTH = 128
MAX_IDEMPOTENCY_KEY_LENGTH = 200


def _settings():
    return current_app.config["SETTINGS"]


def _store() -> DocumentStore:
    return DocumentStore.of(_settings())


def parse_application_part() -> dict:
    """The `application` JSON part, as a form field or as a file part."""
    if request.mimetype != "multipart/form-data":
        raise ApiError(415, "multipart_required", "Send the application as multipart/form-data.")
    raw = request.form.get("application")
    if raw is None and "application" in request.files:
        raw = request.files["application"].read().decode("utf-8", errors="replace")
    if raw is None:
        raise ApiError(422, "invalid_fields", "The `application` part is missing.",
                       {"application": ["Missing data for required field."]})
    try:
        payload = json.loads(raw)
    except ValueError as exc:
        raise ApiError(400, "malformed_json", f"The `application` part is not valid JSON: {exc}.") from None
    if not isinstance(payload, dict):
        raise ApiError(422, "invalid_fields", "The `application` part must be a JSON object.",
                       {"application": ["Must be an object."]})
    return ApplicationSchema().load(payload)


def parse_uploads() -> list[service.Upload]:
    unknown = [name for name in request.files if name not in DOCUMENT_KINDS + ("application",)]
    if unknown:
        raise ApiError(422, "invalid_documents", "Unknown file parts.", {n: ["Unknown file part."] for n in unknown})
    uploads = []
    for kind in DOCUMENT_KINDS:
        part = request.files.get(kind)
        data = part.read() if part is not None else b""
        # a form whose file input was left empty sends a part with no file name and no content
        if part is not None and (part.filename or data):
            uploads.append(service.Upload(kind, part.filename or kind, data))
    return uploads


def applicant_token_arg(raw: str | None) -> str | None:
    """The applicant's token as sent, or None when absent.

    Something that cannot be a token (non-ASCII, control characters, absurdly long) is answered like a wrong
    token, so the 404 stays the only answer for anything but the right key.
    """
    if raw is None or raw == "":
        return None
    if len(raw) > MAX_TOKEN_LENGTH or not raw.isascii() or not raw.isprintable():
        raise ApiError(404, "not_found", "No application with this reference and token.")
    return raw


def idempotency_key(raw: str | None) -> str | None:
    """The Idempotency-Key header, or None; it is stored, so only short printable ASCII is accepted."""
    if raw is None or raw == "":
        return None
    if len(raw) > MAX_IDEMPOTENCY_KEY_LENGTH or not raw.isascii() or not raw.isprintable():
        raise ApiError(422, "invalid_idempotency_key",
                       f"Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY_LENGTH} printable ASCII characters.",
                       {"Idempotency-Key": [f"Printable ASCII characters only, at most {MAX_IDEMPOTENCY_KEY_LENGTH}."]})
    return raw


# Reasons recorded by intake's own check (eligibility and completeness codes) or by the applicant are meant for
# the candidate: they need them to put things right. A reviewer's reason code is internal; so is any actor we
# do not know, until someone decides otherwise.
CANDIDATE_FACING_ACTORS = frozenset({"worker", "applicant"})


def for_applicant(application) -> dict:
    """The status as the applicant may see it: history without the reviewers' internal reason codes."""
    body = ApplicationStatusSchema().dump(application)
    for change, entry in zip(application.history, body["history"]):
        if change.actor not in CANDIDATE_FACING_ACTORS:
            entry["reason"] = None
    return body


@dataclass(frozen=True)
class Accepted:
    """What a submitter is told: the same for a first application and for a duplicate of someone's."""

    reference: str
    status: str
    token: str
    created: bool


def accept_submission(*, payload: dict, uploads: list[service.Upload], key: str | None,
                      draft: Draft | None = None) -> Accepted:
    """The submission use case, committed. A person who already applied is not told so (no one learns from
    this answer who applied): the answer looks like a first one, and the application's owner is emailed."""
    session, settings = db.session, _settings()
    for attempt in (1, 2):
        try:
            application, created = service.submit_application(
                session=session, call=open_call(session=session), payload=payload, uploads=uploads,
                idempotency_key=key, store=_store(), draft=draft)
            session.commit()
            return Accepted(application.reference, application.status, service.applicant_token(
                settings.applicant_token_key, application.reference, application.token_version), created)
        except service.DuplicateApplication as duplicate:
            email_link(session=session, application=duplicate.existing, purpose="duplicate")
            session.commit()
            reference = service.decoy_reference(call=open_call(session=session), payload=payload,
                                                token_key=settings.applicant_token_key, idempotency_key=key)
            return Accepted(reference, "submitted", service.applicant_token(settings.applicant_token_key, reference),
                            True)
        except IntegrityError:
            # a concurrent request won the race (same key: a replay; same person: a duplicate); the second
            # round sees its row and answers as for them
            session.rollback()
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


@bp.post("/api/v1/applications")
def submit():
    payload = parse_application_part()
    uploads = parse_uploads()
    accepted = accept_submission(payload=payload, uploads=uploads,
                                 key=idempotency_key(request.headers.get("Idempotency-Key")))
    body = SubmittedSchema().dump({
        "reference": accepted.reference, "status": accepted.status, "token": accepted.token,
        "status_url": f"{_settings().intake_url}/api/v1/applications/{accepted.reference}"})
    return body, 201, {"Idempotent-Replayed": "false" if accepted.created else "true"}


def _applicant_application(reference: str, *, lock: bool = False):
    return service.find_for_applicant(session=db.session, reference=reference,
                                      token=applicant_token_arg(bearer_token(request.headers.get("Authorization"))),
                                      token_key=_settings().applicant_token_key, lock=lock)


@bp.get("/api/v1/applications/<reference>")
def status(reference: str):
    return for_applicant(_applicant_application(reference))


@bp.post("/api/v1/applications/<reference>/documents")
def add_documents(reference: str):
    if request.mimetype != "multipart/form-data":
        raise ApiError(415, "multipart_required", "Send the documents as multipart/form-data.")
    application = _applicant_application(reference, lock=True)
    service.add_documents(session=db.session, call=db.session.get_one(Call, application.call_id),
                          application=application, uploads=parse_uploads(), store=_store())
    db.session.commit()
    return for_applicant(application)


@bp.post("/api/v1/applications/<reference>/withdraw")
def withdraw(reference: str):
    application = _applicant_application(reference, lock=True)
    service.withdraw(session=db.session, application=application)
    db.session.commit()
    return for_applicant(application)


@bp.post("/api/v1/applications/<reference>/sign-out-everywhere")
def sign_out_everywhere(reference: str):
    """Revoke every token and portal session of the application; the answer carries its one new token."""
    application = _applicant_application(reference, lock=True)
    service.sign_out_everywhere(application=application)
    db.session.commit()
    token = service.applicant_token(_settings().applicant_token_key, reference, application.token_version)
    return SignedOutSchema().dump({"reference": reference, "token": token})
