"""The event envelope, one marshmallow schema per event type, and who consumes what.

Events are named in the past tense. An envelope is plain JSON:
`{"id", "type", "version", "occurred_at", "producer", "data", "correlation_id", "signature"}`, signed by its
producer (shared/events/signing.py): `load_event` refuses one that is unsigned, wrongly signed or signed by a
service that does not produce its type.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate

from shared.db import utcnow
from shared.events import signing
from shared.events.signing import EventSignatureError, EventSigningError  # noqa: F401
from shared.logging import correlation_id as current_correlation_id

DECISIONS = ("shortlisted", "reserve", "rejected")


class Problem(Schema):
    code = fields.String(required=True)
    message = fields.String(required=True)


class ApplicantSummary(Schema):
    class Meta:
        unknown = EXCLUDE

    given_name = fields.String(required=True)
    family_name = fields.String(required=True)
    nationality = fields.String(required=True)
    date_of_birth = fields.Date(required=True)
    session = fields.String(required=True)
    education = fields.Dict(required=True)
    languages = fields.Dict(required=True)
    correspondence_language = fields.String(required=True)


class ApplicationSubmitted(Schema):
    reference = fields.String(required=True)
    departments = fields.List(fields.String(), required=True, validate=validate.Length(min=1, max=3))
    submitted_at = fields.AwareDateTime(required=True)
    applicant = fields.Nested(ApplicantSummary, required=True)


class ApplicationChecked(Schema):
    reference = fields.String(required=True)
    eligible = fields.Boolean(required=True)
    complete = fields.Boolean(required=True)
    problems = fields.List(fields.Nested(Problem), required=True)


class DossierRendered(Schema):
    reference = fields.String(required=True)
    dossier_key = fields.String(required=True)
    pages = fields.Integer(required=True, validate=validate.Range(min=1))
    sha256 = fields.String(required=True, validate=validate.Length(equal=64))
    # the blind variant (no name, nationality, date of birth, email or photo) for a blind first round
    blind_dossier_key = fields.String(allow_none=True, load_default=None)
    blind_pages = fields.Integer(allow_none=True, load_default=None, validate=validate.Range(min=1))
    blind_sha256 = fields.String(allow_none=True, load_default=None, validate=validate.Length(equal=64))
    # documents the render could not include (unreadable PDF, DOCX that would not convert): for staff
    flags = fields.List(fields.Nested(Problem), load_default=list)


class ApplicationStatusChanged(Schema):
    reference = fields.String(required=True)
    old = fields.String(required=True, allow_none=True)
    new = fields.String(required=True)
    reason = fields.String(required=True, allow_none=True)
    email = fields.Email(required=True)
    name = fields.String(required=True)
    language = fields.String(required=True, validate=validate.OneOf(["en", "fr"]))
    # optional, additive: lets notify scope an application's emails to its departments' coordinators
    departments = fields.List(fields.String(), load_default=None, allow_none=True)
    # optional, additive (services/intake/portal): the single-use link that opens the candidate's portal, and
    # when it stops working
    link = fields.Url(load_default=None, allow_none=True, require_tld=False)
    link_expires_at = fields.AwareDateTime(load_default=None, allow_none=True)
    # optional, additive: what the candidate reads about `reason`, in `language`, one sentence each (never a code)
    reasons = fields.List(fields.String(), load_default=list)
    # optional, additive: the departments' names in `language`, in the candidate's order of preference
    department_names = fields.List(fields.String(), load_default=list)


class DecisionReleased(Schema):
    reference = fields.String(required=True)
    decision = fields.String(required=True, validate=validate.OneOf(DECISIONS))
    reason_code = fields.String(required=True, allow_none=True)
    released_by = fields.String(required=True)


class ApplicationAccessRequested(Schema):
    """An expiring link for the applicant: their status page, their draft, or an erasure confirmation."""
    reference = fields.String(required=True)
    email = fields.Email(required=True)
    name = fields.String(required=True)
    language = fields.String(required=True, validate=validate.OneOf(["en", "fr"]))
    link = fields.Url(required=True, require_tld=False)
    expires_at = fields.AwareDateTime(required=True)
    purpose = fields.String(required=True, validate=validate.OneOf(["status", "draft", "erasure", "duplicate"]))


class ApplicationErased(Schema):
    reference = fields.String(required=True)
    erased_at = fields.AwareDateTime(required=True)
    reason = fields.String(required=True)


class Reviewer(Schema):
    id = fields.Integer(required=True)
    email = fields.Email(required=True)
    language = fields.String(required=True, validate=validate.OneOf(["en", "fr"]))


class ReviewAssigned(Schema):
    reference = fields.String(required=True)
    reviewer = fields.Nested(Reviewer, required=True)
    assigned_at = fields.AwareDateTime(required=True)


class ReviewUnassigned(Schema):
    """An assignment taken back before it was scored (replaced, or its reviewer deactivated or rescoped)."""

    reference = fields.String(required=True)
    reviewer_id = fields.Integer(required=True)
    unassigned_at = fields.AwareDateTime(required=True)
    reason = fields.String(required=True)


SCHEMAS: dict[str, type[Schema]] = {
    "application.submitted": ApplicationSubmitted,
    "application.checked": ApplicationChecked,
    "dossier.rendered": DossierRendered,
    "application.status_changed": ApplicationStatusChanged,
    "decision.released": DecisionReleased,
    "application.access_requested": ApplicationAccessRequested,
    "application.erased": ApplicationErased,
    "review.assigned": ReviewAssigned,
    "review.unassigned": ReviewUnassigned,
}


@dataclass(frozen=True)
class Route:
    """A subscriber: the Celery task that handles an event, and the queue it listens on."""

    task: str
    queue: str


REVIEW = Route("review.handle_event", "review.events")
NOTIFY = Route("notify.handle_event", "notify.email")
INTAKE = Route("intake.handle_event", "intake.events")

SUBSCRIBERS: dict[str, tuple[Route, ...]] = {
    "application.submitted": (REVIEW,),
    "application.checked": (REVIEW,),
    "dossier.rendered": (REVIEW,),
    "application.status_changed": (REVIEW, NOTIFY),
    "decision.released": (INTAKE,),
    "application.access_requested": (NOTIFY,),
    "application.erased": (REVIEW, NOTIFY),
    "review.assigned": (NOTIFY,),
    "review.unassigned": (NOTIFY,),
}


class Envelope(Schema):
    id = fields.UUID(required=True)
    type = fields.String(required=True, validate=validate.OneOf(list(SCHEMAS)))
    version = fields.Integer(required=True, validate=validate.Equal(1))
    occurred_at = fields.AwareDateTime(required=True)
    producer = fields.String(required=True, validate=validate.OneOf(["intake", "review", "notify"]))
    data = fields.Dict(required=True)
    # from the request that started the chain, carried by every event that follows from it
    correlation_id = fields.String(allow_none=True, load_default=None, validate=validate.Length(max=64))
    # the producer's Ed25519 signature (checked by load_event before this schema), and the one of the copy
    # without the emailed link that intake's sync API serves
    signature = fields.String(required=True)
    redacted_signature = fields.String(load_default=None, allow_none=True)


def make_event(event_type: str, data: dict, *, producer: str, correlation_id: str | None = None) -> dict:
    """Build a JSON-ready envelope, validating `data` against its type's schema, signed with the producer's key
    (EventSigningError when this process holds none: a service never writes an event consumers would refuse)."""
    schema = SCHEMAS[event_type]()
    errors = schema.validate(schema.dump(data))
    if errors:
        raise ValidationError(errors)
    return signing.sign({
        "id": str(uuid.uuid4()),
        "type": event_type,
        "version": 1,
        "occurred_at": utcnow().isoformat(),
        "producer": producer,
        "data": schema.dump(data),
        # by default the chain this event belongs to: the request's, or the event's or task's being handled
        "correlation_id": correlation_id or current_correlation_id.get(),
    })


def sign_event(envelope: dict) -> dict:
    """Sign `envelope` again (after a change) with its producer's key; the same dict."""
    return signing.sign(envelope)


# Built once: a schema's construction copies its fields and costs more than loading an event with it
_ENVELOPE = Envelope()
_LOADERS = {event_type: schema() for event_type, schema in SCHEMAS.items()}


def load_event(envelope: dict) -> dict:
    """Verify an incoming envelope's signature, then validate it; `data` comes back loaded (dates as objects).

    A forged, unsigned or wrong-producer envelope is a ValidationError like any invalid one: consumers
    dead-letter it at once, before any effect."""
    try:
        signing.verify(envelope)
    except EventSignatureError as exc:
        raise ValidationError({"signature": [str(exc)]}) from None
    event = _ENVELOPE.load(envelope)
    event["data"] = _LOADERS[event["type"]].load(envelope["data"])
    event["id"] = str(event["id"])
    return event
