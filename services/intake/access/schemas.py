"""What "find my application" takes."""
from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate


class AccessLinkRequestSchema(Schema):
    class Meta:
        unknown = RAISE

    email = fields.Email(required=True, validate=validate.Length(max=254))


class AccessLinksAcceptedSchema(Schema):
    """The one answer to "find my application", whatever the address."""

    class Meta:
        unknown = RAISE

    message = fields.String(required=True)
