"""The delivery log's query parameters and rows."""
from marshmallow import EXCLUDE, Schema, fields, validate


class DeliveryQuery(Schema):
    class Meta:
        unknown = EXCLUDE

    reference = fields.String(load_default=None, validate=validate.Length(min=1, max=64))
    page = fields.Integer(load_default=1, validate=validate.Range(min=1))
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
