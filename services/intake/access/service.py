"""Use cases of the way back in: expiring status links, drafts and their purge. Callers commit."""
from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from marshmallow import ValidationError, fields, validate
from sqlalchemy import CursorResult, delete, select
from sqlalchemy.orm import Session

from services.intake.access.models import Draft, HeldUpload
from services.intake.applications.models import Application
from services.intake.applications.service import Upload, inspect_uploads, new_reference, normalize_email
from services.intake.db import OUTBOX
from services.intake.portal.links import secret_digest
from services.intake.programme.models import Call
from shared.bus import publish_event
from shared.db import utcnow
from shared.documents import DocumentStore, DocumentTampered
from shared.events import make_event
from shared.web import ApiError

log = logging.getLogger(__name__)

# the form's own fields, never kept in a draft
NOT_KEPT = frozenset({"csrf_token", "lang", "draft", "action"})
MAX_DRAFT_FIELDS = 60
MAX_DRAFT_VALUE = 10_000
# links sent per request: an address seldom has more applications than this, and it bounds the mail sent
MAX_LINKS = 5
_EMAIL = fields.Email(required=True, validate=validate.Length(max=254))
# a file kept after a refused form waits this long for the next try
HELD_UPLOAD_LIFETIME = timedelta(days=1)
# the form's hidden field `held.<kind>` carries a held file's id: never kept in a draft
HELD_FIELD_PREFIX = "held."


def publish_access_link(*, session: Session, reference: str, email: str, name: str, language: str, link: str,
                        expires_at: datetime, purpose: str) -> None:
    """Ask notify to email `link` to the applicant."""
    publish_event(session=session, outbox=OUTBOX, event=make_event("application.access_requested", {
        "reference": reference, "email": email, "name": name, "language": language, "link": link,
        "expires_at": expires_at, "purpose": purpose}, producer="intake"))


def applications_of(*, session: Session, email: str) -> list[Application]:
    """The most recent applications sent from `email`, in any call."""
    return list(session.scalars(select(Application).where(Application.email_normalized == normalize_email(email))
                                .order_by(Application.created_at.desc()).limit(MAX_LINKS)))


def draft_values(form) -> dict[str, str]:
    """The form's fields as typed, bounded in number and length."""
    values: dict[str, str] = {}
    for name, value in form.items():
        if name in NOT_KEPT or name.startswith(HELD_FIELD_PREFIX) or len(values) >= MAX_DRAFT_FIELDS:
            continue
        values[name[:100]] = value[:MAX_DRAFT_VALUE]
    return values


def save_draft(*, session: Session, call: Call, draft: Draft | None, values: dict[str, str], uploads: list[Upload],
               store: DocumentStore, language: str) -> Draft:
    """Create or update a draft; only the address (where the link goes) and any attached document are judged."""
    if utcnow() > call.deadline or not call.is_open:
        raise ApiError(409, "call_closed", "The deadline for this call has passed.")
    email = values.get("email", "").strip()
    # the one field a draft needs: where its link goes; raises ValidationError, as the full form would, named
    # after the field so that the form shows this error alone
    try:
        _EMAIL.deserialize(email)
    except ValidationError as exc:
        raise ValidationError({"email": exc.messages}) from None
    inspected = inspect_uploads(call=call, uploads=uploads, required=False)
    if draft is None:
        draft = Draft(reference=new_reference(call), call_id=call.id, documents={})
        session.add(draft)
    documents = dict(draft.documents)
    for upload, _facts in inspected:
        documents[upload.kind] = {"key": store.put(upload.data), "filename": upload.filename[:255]}
    draft.email, draft.language, draft.values, draft.documents = email, language, values, documents
    draft.updated_at = utcnow()
    session.flush()
    return draft


def find_draft(*, session: Session, reference: str) -> Draft | None:
    return session.scalars(select(Draft).where(Draft.reference == reference)).first()


def purge_drafts(*, session: Session, older_than: timedelta) -> int:
    """Delete drafts left untouched for `older_than`; their uploads become orphans for the store's sweep."""
    result = cast(CursorResult, session.execute(delete(Draft).where(Draft.updated_at < utcnow() - older_than)))
    return result.rowcount or 0


@dataclass(frozen=True)
class HeldFile:
    """What the form shows of a held upload: the id it sends back, and the file's name."""

    secret: str
    filename: str


def hold_uploads(*, session: Session, call: Call, uploads: list[Upload], store: DocumentStore) -> dict[str, HeldFile]:
    """Keep valid uploads of a refused form in the store, each behind a new random id; by kind."""
    held = {}
    for upload in uploads:
        secret = secrets.token_urlsafe(24)
        session.add(HeldUpload(secret_sha256=secret_digest(secret), call_id=call.id, kind=upload.kind,
                               filename=upload.filename[:255], key=store.put(upload.data)))
        held[upload.kind] = HeldFile(secret=secret, filename=upload.filename[:255])
    session.flush()
    return held


def take_held_uploads(*, session: Session, call: Call, secrets_by_kind: dict[str, str], store: DocumentStore,
                      replaced: set[str]) -> list[Upload]:
    """The uploads held for this call behind the form's ids, except those sent again; each id is used once.

    An unknown, expired or foreign id, or a file gone from the store, is simply missing: the form asks for it.
    """
    wanted = {kind: secret_digest(secret) for kind, secret in secrets_by_kind.items() if kind not in replaced and secret}
    if not wanted:
        return []
    rows = session.scalars(select(HeldUpload).where(
        HeldUpload.secret_sha256.in_(wanted.values()), HeldUpload.call_id == call.id,
        HeldUpload.created_at >= utcnow() - HELD_UPLOAD_LIFETIME))
    uploads = []
    for row in rows:
        if wanted.get(row.kind) == row.secret_sha256 and store.exists(row.key):
            try:
                uploads.append(Upload(row.kind, row.filename, store.read(row.key)))
            except DocumentTampered:  # as if it were gone: the form asks for the file again
                log.warning("held upload refused by the store", extra={"kind": row.kind})
        # whatever happens next, this id has served: a refused form holds its files again under new ones
        session.delete(row)
    return uploads


def purge_held_uploads(*, session: Session, older_than: timedelta = HELD_UPLOAD_LIFETIME) -> int:
    """Delete held uploads older than `older_than`; their files become orphans for the store's sweep."""
    result = cast(CursorResult, session.execute(delete(HeldUpload).where(HeldUpload.created_at < utcnow() - older_than)))
    return result.rowcount or 0
