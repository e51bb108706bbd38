"""Query arguments and response shapes of the audit log."""
from __future__ import annotations

from datetime import datetime, time, timedelta, timezone

from marshmallow import EXCLUDE, Schema, ValidationError, fields, post_load, validate, validates_schema


class AuditArgs(Schema):
    """Filters of the audit page and API; `since` and `until` are days (UTC), both included."""

    class Meta:
        unknown = EXCLUDE

    actor = fields.String(load_default=None, validate=validate.Length(max=254))
    action = fields.String(load_default=None, validate=validate.Regexp(r"^[a-z_.]{1,64}$"))
    reference = fields.String(load_default=None, validate=validate.Length(max=32))
    since = fields.Date(load_default=None)
    until = fields.Date(load_default=None)
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100_000))

    @validates_schema
    def _in_order(self, data, **kwargs):
        if data.get("since") and data.get("until") and data["since"] > data["until"]:
            raise ValidationError("Must not be after the end date.", "since")

    @post_load
    def _as_instants(self, data, **kwargs):
        """The days as a half-open UTC range, for the query; the form keeps the days."""
        since, until = data.get("since"), data.get("until")
        data["since_at"] = datetime.combine(since, time(), timezone.utc) if since else None
        data["until_at"] = datetime.combine(until, time(), timezone.utc) + timedelta(days=1) if until else None
        return data


class AuditEntryOut(Schema):
    id = fields.Integer()
    at = fields.AwareDateTime()
    actor = fields.String()
    action = fields.String()
    reference = fields.String(allow_none=True)
    details = fields.Dict()
