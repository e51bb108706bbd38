"""Request and response shapes of the decisions API."""
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from shared.events import DECISIONS

# Suggested in the UI; the API accepts any short code so offices can add their own.
REASON_CODES = {
    "strong_profile": "Strong profile for the department",
    "good_fit": "Good fit, fewer places than candidates",
    "limited_places": "Limited places",
    "insufficient_experience": "Studies or experience do not match the department",
    "weak_motivation": "Motivation statement not convincing",
    "other": "Other (see note)",
}


class DecisionIn(Schema):
    decision = fields.String(required=True, validate=validate.OneOf(DECISIONS))
    reason_code = fields.String(load_default=None, allow_none=True,
                                validate=validate.Regexp(r"^[a-z0-9_]{1,64}$",
                                                         error="Use lower-case letters, digits and _."))
    note = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=4000))


class ConfirmedDecision(Schema):
    reference = fields.String(required=True, validate=validate.Length(min=1, max=32))
    version = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))


class ReleaseIn(Schema):
    """`references` releases whatever is recorded; `decisions` releases each only at the version the
    admin confirmed. Either or both, 1 to 1000 in all."""
    references = fields.List(fields.String(validate=validate.Length(min=1, max=32)),
                             validate=validate.Length(max=1000), load_default=list)
    decisions = fields.List(fields.Nested(ConfirmedDecision), validate=validate.Length(max=1000),
                            load_default=list)

    @validates_schema
    def _some_but_not_too_many(self, data, **kwargs):
        count = len(data.get("references", [])) + len(data.get("decisions", []))
        if count == 0:
            raise ValidationError("Send references or decisions to release.", "references")
        if count > 1000:
            raise ValidationError("At most 1000 at a time.", "references")


class DecisionOut(Schema):
    reference = fields.String()
    decision = fields.String()
    version = fields.Integer()
    reason_code = fields.String(allow_none=True)
    note = fields.String(allow_none=True)
    decided_by = fields.String()
    decided_at = fields.AwareDateTime()
    released = fields.Boolean()
    released_at = fields.AwareDateTime(allow_none=True)
    released_by = fields.String(allow_none=True)
