"""What the applicant's data-protection API answers."""
from __future__ import annotations

from marshmallow import RAISE, Schema, fields, validate


class ErasureRequestedSchema(Schema):
    """The answer to an erasure request: a confirmation link is on its way to the applicant."""

    class Meta:
        unknown = RAISE

    reference = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(["confirmation_sent"]))
