"""The application as applicants send it, and as they see it back."""
from __future__ import annotations

import unicodedata
from datetime import date

import pycountry
from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates, validates_schema

from services.intake.applications.eligibility import CEFR

DEPARTMENT_CODES = ("polsci", "comms", "finance", "it", "hr")


def _not_blank(value: str) -> None:
    if not value.strip():
        raise ValidationError("Must not be blank.")


def _plain_text(value: str) -> None:
    """Text people type: no control characters but line breaks and tabs (PostgreSQL refuses a NUL outright)."""
    if any(unicodedata.category(char) == "Cc" and char not in "\t\n\r" for char in value):
        raise ValidationError("Must not contain control characters.")


class Name(fields.String):
    def __init__(self, **kwargs):
        super().__init__(required=True, validate=[validate.Length(min=1, max=100), _not_blank, _plain_text], **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        return " ".join(super()._deserialize(value, attr, data, **kwargs).split())


class EducationSchema(Schema):
    class Meta:
        unknown = RAISE

    institution = fields.String(required=True, validate=[validate.Length(min=1, max=200), _not_blank, _plain_text])
    degree_level = fields.String(required=True, validate=validate.OneOf(["bachelor", "master", "doctorate", "other"]))
    field_of_study = fields.String(required=True, validate=[validate.Length(min=1, max=200), _not_blank,
                                                            _plain_text])
    status = fields.String(required=True, validate=validate.OneOf(["enrolled", "graduated"]))
    year_of_study = fields.Integer(validate=validate.Range(min=1, max=10), allow_none=True)
    graduation_date = fields.Date(allow_none=True)

    @validates_schema
    def _status_details(self, data, **_):
        if data.get("status") == "enrolled" and data.get("year_of_study") is None:
            raise ValidationError("Required when enrolled.", "year_of_study")
        if data.get("status") == "graduated" and data.get("graduation_date") is None:
            raise ValidationError("Required when graduated.", "graduation_date")


class ApplicationSchema(Schema):
    """The `application` part of a submission."""

    class Meta:
        unknown = RAISE

    given_name = Name()
    family_name = Name()
    email = fields.Email(required=True, validate=validate.Length(max=254))
    date_of_birth = fields.Date(required=True)
    nationality = fields.String(required=True)
    languages = fields.Dict(keys=fields.String(validate=validate.OneOf(["en", "fr"])),
                            values=fields.String(validate=validate.OneOf(CEFR)), required=True,
                            validate=validate.Length(min=1))
    education = fields.Nested(EducationSchema, required=True)
    departments = fields.List(fields.String(validate=validate.OneOf(DEPARTMENT_CODES)), required=True,
                              validate=validate.Length(min=1, max=3))
    session = fields.String(required=True, validate=validate.OneOf(["march", "september"]))
    motivation = fields.String(required=True, validate=[validate.Length(min=1, max=10000), _plain_text])
    correspondence_language = fields.String(required=True, validate=validate.OneOf(["en", "fr"]))
    consent = fields.Boolean(required=True, validate=validate.Equal(True, error="Consent is required to apply."))

    @validates("nationality")
    def _nationality(self, value: str, **_):
        if len(value) != 2 or pycountry.countries.get(alpha_2=value.upper()) is None:
            raise ValidationError("Must be an ISO 3166-1 alpha-2 country code.")

    @validates("date_of_birth")
    def _date_of_birth(self, value: date, **_):
        if not date(1900, 1, 1) <= value <= date.today():
            raise ValidationError("Must be a real date of birth.")

    @validates("departments")
    def _departments(self, value: list, **_):
        if len(set(value)) != len(value):
            raise ValidationError("Each department may be chosen once.")


class StatusChangeSchema(Schema):
    class Meta:
        unknown = RAISE

    old = fields.String(required=True, allow_none=True)
    new = fields.String(required=True)
    reason = fields.String(required=True, allow_none=True)
    at = fields.AwareDateTime(required=True)


class DocumentSchema(Schema):
    class Meta:
        unknown = RAISE

    kind = fields.String(required=True)
    media_type = fields.String(required=True)
    size = fields.Integer(required=True)
    pages = fields.Integer(required=True, allow_none=True)
    filename = fields.String(required=True)
    uploaded_at = fields.AwareDateTime(required=True)


class ApplicationStatusSchema(Schema):
    """What an applicant sees of their application."""

    class Meta:
        unknown = RAISE

    reference = fields.String(required=True)
    status = fields.String(required=True)
    submitted_at = fields.AwareDateTime(required=True)
    history = fields.List(fields.Nested(StatusChangeSchema), required=True)
    problems = fields.List(fields.Dict(), required=True)
    documents = fields.List(fields.Nested(DocumentSchema), required=True)
    dossier_ready = fields.Function(lambda a: a.dossier_key is not None, required=True,
                                    metadata={"type": "boolean"})
    departments = fields.List(fields.String(), required=True)
    session = fields.String(required=True)


class SubmittedSchema(Schema):
    """The answer to a submission: the same shape for a first application and for a duplicate of someone's."""

    class Meta:
        unknown = RAISE

    reference = fields.String(required=True)
    status = fields.String(required=True)
    status_url = fields.Url(required=True)
    token = fields.String(required=True, metadata={"description": "The applicant's bearer token (never emailed)"})


class SignedOutSchema(Schema):
    """The answer to "sign out everywhere": the application's one valid token from now on."""

    class Meta:
        unknown = RAISE

    reference = fields.String(required=True)
    token = fields.String(required=True)
