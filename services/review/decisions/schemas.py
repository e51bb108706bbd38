"""Request and response shapes of the decisions API."""
from flask_babel import lazy_gettext as _l
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from shared.bounds import MAX_ID
from shared.events import DECISIONS

# Suggested in the UI; the API accepts any short code so offices can add their own.
REASON_CODES = {
    "strong_profile": _l("Strong profile for the department"),
    "good_fit": _l("Good fit, fewer places than candidates"),
    "limited_places": _l("Limited places"),
    "insufficient_experience": _l("Studies or experience do not match the department"),
    "weak_motivation": _l("Motivation statement not convincing"),
    "other": _l("Other (see note)"),
}
REASON_CODE = validate.Regexp(r"^[a-z0-9_]{1,64}$", error="Use lower-case letters, digits and _.")


class DecisionIn(Schema):
    decision = fields.String(required=True, validate=validate.OneOf(DECISIONS))
    reason_code = fields.String(load_default=None, allow_none=True, validate=REASON_CODE)
    note = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=4000))


class ConfirmedDecision(Schema):
    reference = fields.String(required=True, validate=validate.Length(min=1, max=32))
    version = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=MAX_ID))


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


class ReasonedDecisionIn(Schema):
    """A decision with its reason (required) and an optional note."""
    decision = fields.String(required=True, validate=validate.OneOf(DECISIONS))
    reason_code = fields.String(required=True, validate=REASON_CODE)
    note = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=4000))


class BulkDecisionIn(ReasonedDecisionIn):
    """One decision with its reason for many applications at once."""
    references = fields.List(fields.String(validate=validate.Length(min=1, max=32)), required=True,
                             validate=validate.Length(min=1, max=1000))


class BulkResultOut(Schema):
    reference = fields.String()
    recorded = fields.Boolean()
    version = fields.Integer()
    code = fields.String()
    message = fields.String()


class ReleasableOut(Schema):
    """What releasing a filtered list would send: how many candidates, in which languages."""
    count = fields.Integer()
    languages = fields.Dict(keys=fields.String(), values=fields.Integer())
    decisions = fields.Dict(keys=fields.String(), values=fields.Integer())
    items = fields.Function(lambda r: [{"reference": d.reference, "version": d.version, "decision": d.decision,
                                        "language": a.correspondence_language or "en"} for d, a in r.rows])


class ProposalIn(ReasonedDecisionIn):
    """A coordinator's proposed decision: the decision, its reason and an optional note."""


class AcceptProposalIn(Schema):
    """The proposal's version the admin saw; without it, whatever is proposed now is accepted."""
    version = fields.Integer(load_default=None, allow_none=True, strict=True, validate=validate.Range(min=1, max=MAX_ID))


class ProposalOut(Schema):
    reference = fields.String()
    decision = fields.String()
    version = fields.Integer()
    reason_code = fields.String()
    note = fields.String(allow_none=True)
    proposed_by = fields.String()
    proposed_at = fields.AwareDateTime()

