"""The delivery log's query parameters and rows."""
from marshmallow import EXCLUDE, Schema, fields, validate

from services.notify.deliveries.models import STATES

MAX_PAGE = 10_000


class DeliveryQuery(Schema):
    class Meta:
        unknown = EXCLUDE

    # references are letters, digits and dashes; anything else (a NUL byte, say) cannot match one
    reference = fields.String(load_default=None, validate=[
        validate.Length(min=1, max=64),
        validate.Regexp(r"^[A-Za-z0-9-]+$", error="A reference has only letters, digits and dashes.")])
    # bounded so the offset stays far inside what the database accepts
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=MAX_PAGE))
    per_page = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))
    state = fields.String(load_default=None, validate=validate.OneOf(STATES))


class DeliveryRow(Schema):
    id = fields.Integer()
    event_id = fields.String()
    reference = fields.String(allow_none=True)
    kind = fields.String()
    template = fields.String()
    recipient = fields.String(allow_none=True)
    language = fields.String()
    state = fields.String()
    attempts = fields.Integer()
    last_error = fields.String(allow_none=True)
    created_at = fields.AwareDateTime()
    sent_at = fields.AwareDateTime(allow_none=True)
    next_attempt_at = fields.AwareDateTime(allow_none=True)


class DeliveryPage(Schema):
    items = fields.List(fields.Nested(DeliveryRow))
    page = fields.Integer()
    per_page = fields.Integer()
    total = fields.Integer()


class ResendRequest(Schema):
    class Meta:
        unknown = EXCLUDE

    # the corrected address the applicant gave; the delivery's own when absent
    email = fields.Email(load_default=None, validate=validate.Length(max=320))


class TemplatePreview(Schema):
    template = fields.String()
    language = fields.String()
    sample = fields.Dict()
    subject = fields.String()
    text = fields.String()
    html = fields.String()


class TemplatePreviews(Schema):
    items = fields.List(fields.Nested(TemplatePreview))
    problems = fields.List(fields.String())
