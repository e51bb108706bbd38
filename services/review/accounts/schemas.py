"""Request and response shapes of the accounts API."""
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from services.review.accounts.models import LANGUAGES, ROLES
from services.review.departments import DEPARTMENT_CODES


class JsonBoolean(fields.Boolean):
    """JSON `true` or `false` only: not 0, 1 or a string (`0 in {False}` holds in Python, so `truthy` cannot
    say it)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise self.make_error("invalid", input=value)
        return value


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
    active = JsonBoolean()
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


class UserStatusOut(UserOut):
    """A user as the list, a change and an unlock answer it: with whether sign-in is being slowed after failed
    attempts (services/review/accounts/service.py)."""
    locked = fields.Boolean(metadata={"description": "Sign-in is being slowed after failed attempts"})


class HandoverOut(Schema):
    """Unscored assignments a change left the user unable to keep: moved to another reviewer of the same
    department, or removed when there was none."""
    moved = fields.Integer()
    unassigned = fields.Integer()


class UserChangedOut(UserStatusOut):
    assignments = fields.Nested(HandoverOut)
