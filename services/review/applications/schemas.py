"""Query arguments and response shapes of the applications API."""
from flask import url_for
from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate, validates_schema

from services.review.applications.models import STATUSES
from shared.bounds import Id
from services.review.applications.service import MAX_PER_PAGE, PER_PAGE, SORTS, flagged_duplicate
from services.review.departments import DEPARTMENT_CODES
from services.review.i18n import country_label, department_label, session_label, status_label


class ListArgs(Schema):
    """The list's filters, sort and page, as the URL carries them (the page, the API and the CSV alike)."""

    class Meta:
        unknown = EXCLUDE

    status = fields.String(load_default=None, validate=validate.OneOf(STATUSES))
    department = fields.String(load_default=None, validate=validate.OneOf(DEPARTMENT_CODES))
    eligible = fields.Boolean(load_default=None)
    duplicate = fields.Boolean(load_default=None)
    # an open coordinators' proposal awaiting an admin
    proposed = fields.Boolean(load_default=None)
    reviewer = Id(load_default=None)
    score_min = fields.Float(load_default=None, validate=validate.Range(min=0, max=100))
    score_max = fields.Float(load_default=None, validate=validate.Range(min=0, max=100))
    q = fields.String(load_default=None, validate=validate.Length(max=100))
    sort = fields.String(load_default="-submitted", validate=validate.OneOf(SORTS))
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100_000))
    per_page = fields.Integer(load_default=PER_PAGE, validate=validate.Range(min=1, max=MAX_PER_PAGE))

    @validates_schema
    def _range_in_order(self, data, **kwargs):
        low, high = data.get("score_min"), data.get("score_max")
        if low is not None and high is not None and low > high:
            raise ValidationError("Must not be above the maximum score.", "score_min")


def clean_args(raw) -> dict:
    """Empty query parameters mean "no filter", as an HTML form sends them."""
    return {k: v for k, v in raw.items() if v not in ("", None)}


def url_args(args: dict, **changes) -> dict:
    """The list's query parameters without defaults, with `changes`: for links that keep the view."""
    defaults = {"sort": "-submitted", "page": 1, "per_page": PER_PAGE}
    merged = {**args, **changes}
    return {k: v for k, v in merged.items() if v is not None and defaults.get(k) != v}


class ApplicationSummaryOut(Schema):
    """An item of the list; `proposed` (the decision an open proposal asks for) is not given to reviewers."""
    reference = fields.String()
    status = fields.String(allow_none=True)
    status_label = fields.Function(lambda a: status_label(a.status))
    submitted_at = fields.AwareDateTime(allow_none=True)
    name = fields.String(allow_none=True)
    nationality = fields.String(allow_none=True)
    nationality_label = fields.Function(lambda a: country_label(a.nationality) or None)
    session = fields.String(allow_none=True)
    session_label = fields.Function(lambda a: session_label(a.session) or None)
    departments = fields.Function(lambda a: a.department_codes)
    department_labels = fields.Function(lambda a: [department_label(code) for code in a.department_codes])
    eligible = fields.Boolean(allow_none=True)
    complete = fields.Boolean(allow_none=True)
    duplicate = fields.Function(flagged_duplicate)
    score = fields.Float(allow_none=True)
    score_spread = fields.Float(allow_none=True)
    reviews_done = fields.Integer()
    reviews_assigned = fields.Integer()
    dossier_ready = fields.Boolean()
    proposed = fields.String(allow_none=True)


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


def _decision_out() -> Schema:
    from services.review.decisions.schemas import DecisionOut  # decisions' schemas use i18n, which uses these

    return DecisionOut()


def _proposal_out() -> Schema:
    from services.review.decisions.schemas import ProposalOut

    return ProposalOut()


class ApplicationDetailOut(ApplicationOut):
    """`GET /api/v1/applications/<reference>`: the application, its decision and (not to reviewers) the open
    proposal."""
    decision = fields.Nested(_decision_out, allow_none=True)
    proposal = fields.Nested(_proposal_out, allow_none=True)
