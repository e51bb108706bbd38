"""Query arguments and response shapes of the applications API."""
from flask import url_for
from marshmallow import EXCLUDE, Schema, fields, validate

from services.review.applications.models import STATUSES
from services.review.departments import DEPARTMENT_CODES


class ListArgs(Schema):
    class Meta:
        unknown = EXCLUDE

    status = fields.String(load_default=None, validate=validate.OneOf(STATUSES))
    department = fields.String(load_default=None, validate=validate.OneOf(DEPARTMENT_CODES))
    q = fields.String(load_default=None, validate=validate.Length(max=100))
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100_000))


def clean_args(raw) -> dict:
    """Empty query parameters mean "no filter", as an HTML form sends them."""
    return {k: v for k, v in raw.items() if v not in ("", None)}


class ApplicationSummaryOut(Schema):
    reference = fields.String()
    status = fields.String(allow_none=True)
    submitted_at = fields.AwareDateTime(allow_none=True)
    name = fields.String(allow_none=True)
    nationality = fields.String(allow_none=True)
    session = fields.String(allow_none=True)
    departments = fields.Function(lambda a: a.department_codes)
    eligible = fields.Boolean(allow_none=True)
    complete = fields.Boolean(allow_none=True)
    dossier_ready = fields.Boolean()


class ApplicationOut(ApplicationSummaryOut):
    status_at = fields.AwareDateTime(allow_none=True)
    given_name = fields.String(allow_none=True)
    family_name = fields.String(allow_none=True)
    email = fields.String(allow_none=True)
    date_of_birth = fields.Date(allow_none=True)
    correspondence_language = fields.String(allow_none=True)
    education = fields.Dict(allow_none=True)
    languages = fields.Dict(allow_none=True)
    problems = fields.List(fields.Dict())
    dossier = fields.Function(lambda a: {
        "ready": a.dossier_ready, "pages": a.dossier_pages, "sha256": a.dossier_sha256,
        "url": url_for("applications.dossier", reference=a.reference) if a.dossier_ready else None,
    })
    updated_at = fields.AwareDateTime()
