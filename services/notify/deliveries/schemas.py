"""The delivery log's query parameters and rows, the resend request, the template previews.

The same classes describe the API in `/openapi.json` (services/notify/openapi.py): a field's bounds, its
`required` and its enum are what the spec says, so the spec and the answers cannot drift apart.
"""
import re

from marshmallow import EXCLUDE, Schema, ValidationError, fields, post_load, validate

from services.notify.deliveries.models import APPLICANT, STAFF, STATES
from services.notify.deliveries.rendering import LANGUAGES

MAX_PAGE = 10_000
MAX_PER_PAGE = 100
_DIGITS = re.compile(r"-?[0-9]+")


class QueryInteger(fields.Integer):
    """An integer from a query string written as digits only: not " 1", "1_000", "+1" or "١", which `int()`
    would take although the spec's `type: integer` does not."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str) and not _DIGITS.fullmatch(value):
            raise ValidationError(self.error_messages["invalid"])
        return super()._deserialize(value, attr, data, **kwargs)


class DeliveryQuery(Schema):
    class Meta:
        unknown = EXCLUDE

    # references are letters, digits and dashes; anything else (a NUL byte, say) cannot match one.
    # `(?!\n)`: Python's `$` also matches before a final newline, the spec's (ECMA) `$` does not
    reference = fields.String(validate=[
        validate.Length(min=1, max=64),
        validate.Regexp(r"^[A-Za-z0-9-]+(?!\n)$", error="A reference has only letters, digits and dashes.")])
    # bounded so the offset stays far inside what the database accepts
    page = QueryInteger(load_default=1, validate=validate.Range(min=1, max=MAX_PAGE))
    per_page = QueryInteger(load_default=20, validate=validate.Range(min=1, max=MAX_PER_PAGE))
    state = fields.String(validate=validate.OneOf(STATES))

    @post_load
    def _absent_filters(self, data, **_kwargs):
        return {"reference": None, "state": None, **data}


class DeliveryRow(Schema):
    """One email of the log (dumped only: `required` says every answer carries the field)."""

    id = fields.Integer(required=True, metadata={"format": "int64"})
    # none for anyone but an admin: internals (services/notify/deliveries/service.py, ADMIN_ONLY_FIELDS)
    event_id = fields.String(required=True, allow_none=True)
    # none for a staff digest, which is about several applications
    reference = fields.String(required=True, allow_none=True)
    kind = fields.String(required=True, validate=validate.OneOf((APPLICANT, STAFF)))
    template = fields.String(required=True)
    # none for a reviewer: an address names the candidate, and a reviewer may be in a blind round
    recipient = fields.String(required=True, allow_none=True)
    language = fields.String(required=True, validate=validate.OneOf(LANGUAGES))
    state = fields.String(required=True, validate=validate.OneOf(STATES))
    attempts = fields.Integer(required=True, validate=validate.Range(min=0))
    # the server's last answer, addresses removed; none when there was no error, and for anyone but an admin
    last_error = fields.String(required=True, allow_none=True)
    created_at = fields.AwareDateTime(required=True)
    sent_at = fields.AwareDateTime(required=True, allow_none=True)
    next_attempt_at = fields.AwareDateTime(required=True, allow_none=True)


class DeliveryPage(Schema):
    items = fields.List(fields.Nested(DeliveryRow), required=True)
    page = fields.Integer(required=True, validate=validate.Range(min=1, max=MAX_PAGE))
    per_page = fields.Integer(required=True, validate=validate.Range(min=1, max=MAX_PER_PAGE))
    total = fields.Integer(required=True, validate=validate.Range(min=0))


class ResendRequest(Schema):
    class Meta:
        unknown = EXCLUDE

    # the corrected address the applicant gave; the delivery's own when absent or null
    email = fields.Email(load_default=None, validate=validate.Length(max=320))


class TemplatePreview(Schema):
    template = fields.String(required=True)
    language = fields.String(required=True, validate=validate.OneOf(LANGUAGES))
    sample = fields.Dict(required=True, metadata={"description": "The sample values the template was rendered with"})
    subject = fields.String(required=True)
    text = fields.String(required=True)
    html = fields.String(required=True)


class TemplatePreviews(Schema):
    items = fields.List(fields.Nested(TemplatePreview), required=True)
    problems = fields.List(fields.String(), required=True,
                           metadata={"description": "What is wrong with the templates; empty when all is well"})
