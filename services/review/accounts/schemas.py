"""Request and response shapes of the accounts API."""
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from services.review.accounts.models import LANGUAGES, ROLES
from services.review.departments import DEPARTMENT_CODES


class TokenRequest(Schema):
    email = fields.String(required=True, validate=validate.Length(min=1, max=254))
    password = fields.String(required=True, validate=validate.Length(min=1, max=1024))


class RefreshRequest(Schema):
    refresh_token = fields.String(required=True, validate=validate.Length(min=1, max=200))


class NewUser(Schema):
    email = fields.Email(required=True, validate=validate.Length(max=254))
    password = fields.String(required=True, validate=validate.Length(min=12, max=1024))
    role = fields.String(required=True, validate=validate.OneOf(ROLES))
    departments = fields.List(fields.String(validate=validate.OneOf(DEPARTMENT_CODES)), load_default=list)
    language = fields.String(load_default="en", validate=validate.OneOf(LANGUAGES))


class UserChange(Schema):
    active = fields.Boolean(truthy={True}, falsy={False})  # JSON true/false only
    role = fields.String(validate=validate.OneOf(ROLES))
    departments = fields.List(fields.String(validate=validate.OneOf(DEPARTMENT_CODES)))
    language = fields.String(validate=validate.OneOf(LANGUAGES))

    @validates_schema
    def _something(self, data, **kwargs):
        if not data:
            raise ValidationError("Send at least one of active, role, departments, language.", "_schema")


class UserOut(Schema):
    id = fields.Integer()
    email = fields.String()
    role = fields.String()
    departments = fields.List(fields.String())
    active = fields.Boolean()
    language = fields.String()
    created_at = fields.AwareDateTime()
