"""Use cases of applicants: submit, read, add documents, withdraw. Callers commit."""
from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, selectinload

from services.intake.access.models import Draft
from services.intake.applications.models import Application, Document
from services.intake.applications.status import can_change, change_status
from services.intake.db import OUTBOX
from services.intake.documents.inspect import INSPECTOR, DocumentRejected, Inspected, inspect_document
from services.intake.portal.links import forget as forget_links
from services.intake.programme.models import Call
from services.intake.privacy.erasure import find_tombstone
from services.intake.privacy.notice import current_notice
from shared.bus import enqueue_task, publish_event
from shared.db import utcnow
from shared.documents import DocumentStore, DocumentTampered
from shared.events import make_event
from shared.web import ApiError

_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"  # no 0/O, 1/I/L: references are read aloud and typed
# NIP<yy>-XXXX-XXXX, 18 characters; the same in the API's spec
REFERENCE_PATTERN = f"^NIP[0-9]{{2}}-[{_ALPHABET}]{{4}}-[{_ALPHABET}]{{4}}$"
REFERENCE_MAX_LENGTH = 20
_REFERENCE = re.compile(REFERENCE_PATTERN)


@dataclass(frozen=True)
class Upload:
    kind: str
    filename: str
    data: bytes


def new_reference(call: Call) -> str:
    body = "".join(secrets.choice(_ALPHABET) for _ in range(8))
    return f"NIP{call.deadline.year % 100:02d}-{body[:4]}-{body[4:]}"


def applicant_token(token_key: str, reference: str, version: int = 0) -> str:
    """The applicant's bearer token: derived, never stored, so a database leak reveals none; valid only while the
    application's `token_version` is `version` (version 0 keeps the tokens issued before versions existed)."""
    message = f"applicant:{reference}" if version == 0 else f"applicant:{reference}:{version}"
    return hmac.new(token_key.encode(), message.encode(), hashlib.sha256).hexdigest()


class DuplicateApplication(Exception):
    """The person already has an active application in this call: the submitter is answered as for a first
    one (no one learns who applied), and the application's owner is emailed a link to it."""

    def __init__(self, existing: "Application"):
        super().__init__(existing.reference)
        self.existing = existing


def decoy_reference(*, call: Call, token_key: str, payload: dict, idempotency_key: str | None) -> str:
    """The reference a duplicate submission is answered with: never stored, the same for a replay of it."""
    seed = json.dumps([call.id, normalize_email(payload["email"]), idempotency_key, payload["date_of_birth"]],
                      default=str)
    digest = hmac.new(token_key.encode(), f"decoy:{seed}".encode(), hashlib.sha256).digest()
    body = "".join(_ALPHABET[byte % len(_ALPHABET)] for byte in digest[:8])
    return f"NIP{call.deadline.year % 100:02d}-{body[:4]}-{body[4:]}"


def normalize_email(email: str) -> str:
    return email.strip().lower()


def name_key(given: str, family: str) -> str:
    return " ".join(f"{given} {family}".casefold().split())


def request_hash(payload: dict, uploads: list[Upload]) -> str:
    body = json.dumps(payload, sort_keys=True, default=str)
    files = sorted((u.kind, hashlib.sha256(u.data).hexdigest()) for u in uploads)
    return hashlib.sha256(json.dumps([body, files]).encode()).hexdigest()


def inspect_uploads(*, call: Call, uploads: list[Upload], required: bool) -> list[tuple[Upload, Inspected]]:
    """Check every upload against the call's document rules; all problems are reported together."""
    errors: dict[str, list[str]] = {}
    reasons: dict[str, str] = {}
    rejections: list[DocumentRejected] = []
    inspected = []
    for upload in uploads:
        rule = call.document_rule(upload.kind)
        if rule is None:
            errors[upload.kind] = ["Unknown document kind."]
            continue
        try:
            inspected.append((upload, inspect_document(upload.data, rule=rule)))
        except DocumentRejected as rejected:
            errors[upload.kind] = [rejected.message]
            reasons[upload.kind] = rejected.code
            rejections.append(rejected)
    kinds = {u.kind for u in uploads}
    if required:
        for rule in call.documents:
            if rule["required"] and rule["kind"] not in kinds:
                errors[rule["kind"]] = [f"{rule['label']} is required."]
    if errors:
        # one HTTP status for the whole answer: the one a client most needs to act on
        worst = max(rejections, key=lambda r: _SEVERITY.get(r.status, 0), default=None)
        if worst is not None and worst.status != 422:
            raise ApiError(worst.status, worst.code, "Some documents are not acceptable.", errors, reasons=reasons)
        raise ApiError(422, "invalid_documents", "Some documents are missing or not acceptable.", errors,
                       reasons=reasons)
    return inspected


_SEVERITY = {413: 3, 415: 2, 422: 1}


def _attach(*, application: Application, inspected: list[tuple[Upload, Inspected]], store: DocumentStore) -> None:
    for upload, facts in inspected:
        key = store.put(upload.data)
        document = application.document(upload.kind)
        if document is None:
            document = Document(kind=upload.kind)
            application.documents.append(document)
        document.key, document.media_type, document.size = key, facts.media_type, facts.size
        document.pages, document.sha256, document.filename = facts.pages, facts.sha256, upload.filename[:255]
        document.inspected_by = INSPECTOR
        document.uploaded_at = utcnow()


def _draft_uploads(*, draft: Draft, store: DocumentStore, replaced: set[str]) -> list[Upload]:
    """The documents kept with a draft, except those sent again; a lost or altered file is simply missing (the
    submission then asks for it)."""
    uploads = []
    for kind, doc in draft.documents.items():
        if kind in replaced or not store.exists(doc["key"]):
            continue
        try:
            uploads.append(Upload(kind, doc["filename"], store.read(doc["key"])))
        except DocumentTampered:  # altered, or a file without encryption put in its place (shared/documents.py)
            continue
    return uploads


def submit_application(*, session: Session, call: Call, payload: dict, uploads: list[Upload],
                       idempotency_key: str | None, store: DocumentStore,
                       draft: Draft | None = None) -> tuple[Application, bool]:
    """Create a submitted application (from `draft` when given); returns (application, created).

    A replay returns the original.
    """
    if draft is not None:
        uploads = uploads + _draft_uploads(draft=draft, store=store, replaced={u.kind for u in uploads})
    fingerprint = request_hash(payload, uploads)
    email = normalize_email(payload["email"])
    key = name_key(payload["given_name"], payload["family_name"])
    # one round trip finds both a replay (same key) and an application of the same person; which of them
    # answers, and when, is unchanged: a replay first, a duplicate only once the rest is known to be valid
    same_person = or_(Application.email_normalized == email,
                      (Application.name_key == key) & (Application.date_of_birth == payload["date_of_birth"]))
    matches = session.execute(select(Application.id, Application.idempotency_key, Application.status).where(
        Application.call_id == call.id,
        or_(Application.idempotency_key == idempotency_key, same_person) if idempotency_key else same_person,
    ).limit(20)).all()
    if idempotency_key:
        replayed = next((row.id for row in matches if row.idempotency_key == idempotency_key), None)
        if replayed is not None:
            existing = session.get_one(Application, replayed)
            if existing.request_hash != fingerprint:
                raise ApiError(409, "idempotency_key_reused",
                               "This Idempotency-Key was already used for a different application.")
            return existing, False
    if utcnow() > call.deadline or not call.is_open:
        raise ApiError(409, "call_closed", "The deadline for this call has passed.")
    _check_motivation(call, payload["motivation"])
    inspected = inspect_uploads(call=call, uploads=uploads, required=True)
    # a withdrawn application leaves room for a new one; an active one does not
    active = next((row.id for row in matches if row.status != "withdrawn"), None)
    if active is not None:
        raise DuplicateApplication(session.get_one(Application, active))
    if draft is not None:
        # the draft's links were sent to the address it had: from now on only the application's emails open it
        forget_links(session=session, reference=draft.reference)
    now = utcnow()
    consent = current_notice(payload["correspondence_language"])
    application = Application(
        reference=draft.reference if draft is not None else new_reference(call), call_id=call.id,
        given_name=payload["given_name"], family_name=payload["family_name"], name_key=key,
        email=payload["email"].strip(), email_normalized=email, date_of_birth=payload["date_of_birth"],
        nationality=payload["nationality"].upper(), languages=payload["languages"],
        education=json.loads(json.dumps(payload["education"], default=str)),
        departments=payload["departments"], session=payload["session"], motivation=payload["motivation"],
        correspondence_language=payload["correspondence_language"], consent_at=now, submitted_at=now,
        # what was agreed to, exactly: the notice's version and its text's sha256 (services/intake/privacy)
        consent_version=consent.version, consent_sha256=consent.sha256,
        idempotency_key=idempotency_key, request_hash=fingerprint, problems=[],
    )
    session.add(application)
    _attach(application=application, inspected=inspected, store=store)
    change_status(session=session, application=application, new="submitted", actor="applicant")
    publish_event(session=session, outbox=OUTBOX, event=make_event("application.submitted", {
        "reference": application.reference, "departments": application.departments, "submitted_at": now,
        "applicant": {
            "given_name": application.given_name, "family_name": application.family_name,
            "nationality": application.nationality, "date_of_birth": application.date_of_birth,
            "session": application.session, "education": application.education,
            "languages": application.languages, "correspondence_language": application.correspondence_language,
        },
    }, producer="intake"))
    request_check(session=session, application=application)
    if draft is not None:
        session.delete(draft)
    session.flush()
    return application, True


def _check_motivation(call: Call, motivation: str) -> None:
    low, high = call.rules["motivation_words"]
    words = len(motivation.split())
    if not low <= words <= high:
        raise ApiError(422, "invalid_fields", "Some fields are missing or invalid.",
                       {"motivation": [f"Must be between {low} and {high} words (it has {words})."]})


# the queues the commands go to, which the sweeper looks into before it asks again
CHECK_QUEUE, RENDER_QUEUE = "intake.checks", "intake.render"


def request_check(*, session: Session, application: Application) -> None:
    enqueue_task(session=session, outbox=OUTBOX, task="intake.check_application", queue=CHECK_QUEUE,
                 args=[application.reference])


def request_render(*, session: Session, application: Application) -> None:
    enqueue_task(session=session, outbox=OUTBOX, task="intake.render_dossier", queue=RENDER_QUEUE,
                 args=[application.reference])


def find_for_applicant(*, session: Session, reference: str, token: str | None, token_key: str,
                       lock: bool = False) -> Application:
    """The application behind a reference and its token; the same 404 for a wrong token or reference."""
    if token is None:
        raise ApiError(401, "unauthorized", "The application's token is required.")
    if not _REFERENCE.fullmatch(reference):
        # cannot be one of ours: answered like a wrong token, and never sent to the database (PostgreSQL
        # refuses a NUL in a string outright)
        raise ApiError(404, "not_found", "No application with this reference and token.")
    application = find_application(session=session, reference=reference, lock=lock)
    # a token from before the last "sign out everywhere" or withdrawal is a wrong token
    version = application.token_version if application is not None else 0
    if not hmac.compare_digest(applicant_token(token_key, reference, version), token):
        raise ApiError(404, "not_found", "No application with this reference and token.")
    if application is None:
        if find_tombstone(session=session, reference=reference) is not None:
            raise ApiError(410, "erased", "This application and its personal data have been erased.")
        raise ApiError(404, "not_found", "No application with this reference and token.")
    return application


def find_application(*, session: Session, reference: str, lock: bool = False) -> Application | None:
    """The application with its history and documents, or None."""
    query = select(Application).where(Application.reference == reference).options(
        selectinload(Application.history), selectinload(Application.documents))
    if lock:
        query = query.with_for_update()
    return session.scalars(query).first()


def add_documents(*, session: Session, call: Call, application: Application, uploads: list[Upload],
                  store: DocumentStore) -> None:
    """Add or replace documents while the application is incomplete, then check it again."""
    if application.status != "incomplete":
        raise ApiError(409, "not_incomplete", "Documents can be added only while the application is incomplete.")
    if not uploads:
        raise ApiError(422, "invalid_documents", "Attach at least one document.", {})
    inspected = inspect_uploads(call=call, uploads=uploads, required=False)
    _attach(application=application, inspected=inspected, store=store)
    change_status(session=session, application=application, new="checking", actor="applicant",
                  reason="documents added")
    request_check(session=session, application=application)


def withdraw(*, session: Session, application: Application) -> None:
    """Withdraw at the applicant's request, possible until a decision is released."""
    if not can_change(application.status, "withdrawn"):
        raise ApiError(409, "cannot_withdraw", f"An application that is {application.status} cannot be withdrawn.")
    change_status(session=session, application=application, new="withdrawn", actor="applicant")
    sign_out_everywhere(application=application)


def sign_out_everywhere(*, application: Application) -> None:
    """Revoke the application's API token and every portal session; its emailed links still open it."""
    application.token_version += 1
