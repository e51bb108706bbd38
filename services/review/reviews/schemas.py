"""Request and response shapes of the reviews, assignments and review settings API."""
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from services.review.accounts.schemas import JsonBoolean
from services.review.reviews.models import RECOMMENDATIONS
from shared.bounds import Id


class ReviewIn(Schema):
    # checked against the rubric in force by the service, which knows it
    scores = fields.Dict(keys=fields.String(), required=True)
    comment = fields.String(load_default="", validate=validate.Length(max=4000))
    recommendation = fields.String(required=True, validate=validate.OneOf(RECOMMENDATIONS))


class ReviewOut(Schema):
    reviewer_id = fields.Integer()
    reviewer = fields.String()
    scores = fields.Dict()
    aggregate = fields.Float()
    comment = fields.String()
    recommendation = fields.String()
    created_at = fields.AwareDateTime()
    updated_at = fields.AwareDateTime()


class AssignmentIn(Schema):
    reviewer_id = Id(required=True, strict=True)
    replaces = Id(load_default=None, allow_none=True, strict=True)


class AssignmentOut(Schema):
    reviewer_id = fields.Integer()
    reviewer = fields.String()
    department = fields.String()
    assigned_at = fields.AwareDateTime()
    assigned_by = fields.String(allow_none=True)
    scored = fields.Boolean()


class SettingsIn(Schema):
    reviewers_per_application = fields.Integer(strict=True, validate=validate.Range(min=1, max=10))
    blind_round = JsonBoolean()

    @validates_schema
    def _something(self, data, **kwargs):
        if not data:
            raise ValidationError("Send reviewers_per_application, blind_round or both.", "_schema")


class SettingsOut(Schema):
    reviewers_per_application = fields.Integer()
    blind_round = fields.Boolean()
    updated_at = fields.AwareDateTime()
    updated_by = fields.String(allow_none=True)


class CriterionOut(Schema):
    code = fields.String()
    label = fields.String()
    weight = fields.Float()
    min = fields.Integer()
    max = fields.Integer()


class QueueItemOut(Schema):
    reference = fields.String()
    name = fields.String(allow_none=True)
    submitted_at = fields.AwareDateTime(allow_none=True)
    departments = fields.List(fields.String())
    department = fields.String()
    assigned_at = fields.AwareDateTime()
    url = fields.String()
