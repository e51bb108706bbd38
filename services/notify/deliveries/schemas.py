"""The delivery log's query parameters and rows."""
from marshmallow import EXCLUDE, Schema, fields, validate

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


class DeliveryRow(Schema):
    event_id = fields.String()
    reference = fields.String()
    template = fields.String()
    recipient = fields.String()
    language = fields.String()
    state = fields.String()
    attempts = fields.Integer()
    last_error = fields.String(allow_none=True)
    created_at = fields.AwareDateTime()
    sent_at = fields.AwareDateTime(allow_none=True)


class DeliveryPage(Schema):
    items = fields.List(fields.Nested(DeliveryRow))
    page = fields.Integer()
    per_page = fields.Integer()
    total = fields.Integer()
