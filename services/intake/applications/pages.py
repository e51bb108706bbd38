"""The applicants' HTML pages: the form and the status page, in the visitor's language (services/intake/i18n.py)."""
from __future__ import annotations

from flask import Blueprint, Flask, redirect, render_template, request, session, url_for
from flask_babel import force_locale, format_date, format_time, gettext as _, lazy_gettext as _l, to_user_timezone
from flask_wtf.csrf import CSRFError, CSRFProtect
from marshmallow import ValidationError

from services.intake import labels
from services.intake.access import pages as access_pages
from services.intake.portal import sessions
from services.intake.access.pages import HELD_FIELD_PREFIX
from services.intake.access.service import HeldFile
from services.intake.applications import service
from services.intake.applications.eligibility import AFTER_BACHELOR, BACHELOR_YEARS, CEFR
from services.intake.applications.schemas import ApplicationSchema
from services.intake.applications.views import accept_submission, parse_uploads
from services.intake.db import db
from services.intake.privacy.views import erased_page
from services.intake.i18n import LANGUAGES, current_language, language_name
from services.intake.programme.models import Call
from services.intake.programme.service import open_call
from shared.web import ApiError, error_response, wants_json

bp = Blueprint("pages", __name__)
csrf = CSRFProtect()
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CSRF_EXEMPT_PREFIXES = ("/api/", "/internal/")
CSRF_MESSAGE = _l("This form has expired or was not sent from our site. Please check your answers, attach your "
                  "documents again and submit.")


@bp.app_template_filter()
def brussels(moment) -> str:
    """A moment in the programme's time zone, written the page's language's way."""
    return _("%(date)s, %(time)s (Brussels time)", date=format_date(moment, "long"), time=format_time(moment, "short"))


@bp.app_template_global()
def status_label(code: str) -> str:
    return labels.label(labels.STATUSES, code)


def error_page(exc, message: str | None = None):
    """An HTTP error as a page in the visitor's language; werkzeug's own descriptions are English."""
    message = message or str(labels.ERROR_PAGES.get(exc.code, labels.ERROR_PAGE_FALLBACK))
    return render_template("error.html", message=message), exc.code or 500


def api_error_page(exc: ApiError):
    """A use case's refusal on a page: in words, in the visitor's language, never JSON."""
    if exc.code == "erased":  # services/intake/privacy: the page says so, in the applicant's language
        return erased_page(request.view_args.get("reference", "") if request.view_args else "")
    message = labels.FORM_REFUSALS.get(exc.code) or labels.ERROR_PAGES.get(exc.status, labels.ERROR_PAGE_FALLBACK)
    return render_template("error.html", message=str(message)), exc.status


def init_csrf(app: Flask) -> None:
    """CSRF tokens on every HTML form post.

    The JSON APIs under /api/ and /internal/ are exempt by path, whatever blueprint serves them: they act only
    on a bearer token or an explicit multipart request, never on a cookie, so a foreign page cannot borrow a
    visitor's credentials.
    """
    app.config.update(WTF_CSRF_CHECK_DEFAULT=False,
                      # long enough to write a motivation letter in one sitting
                      WTF_CSRF_TIME_LIMIT=24 * 3600,
                      SESSION_COOKIE_SAMESITE="Lax",
                      SESSION_COOKIE_SECURE=app.config["SETTINGS"].intake_url.startswith("https://"))
    csrf.init_app(app)

    @app.before_request
    def _protect_forms():
        if request.method in UNSAFE_METHODS and not request.path.startswith(CSRF_EXEMPT_PREFIXES):
            csrf.protect()

    @app.errorhandler(CSRFError)
    def _csrf_failed(exc: CSRFError):
        if wants_json():
            with force_locale("en"):  # the API speaks English
                return error_response(400, "csrf_failed", f"{exc.description} {CSRF_MESSAGE}")
        message = str(CSRF_MESSAGE)
        if request.endpoint == "pages.apply":
            # the applicant keeps what they typed; only the files must be attached again
            return _render_form(errors={}, form_errors=[message]), 400
        return error_page(exc, message)


def _form_payload(form) -> dict:
    """The form's fields in the API's shape, so one schema judges both."""
    education = {k: form.get(f"education.{k}") or None for k in
                 ("institution", "degree_level", "field_of_study", "status", "year_of_study", "graduation_date")}
    languages = {lang: form.get(f"languages.{lang}") for lang in ("en", "fr") if form.get(f"languages.{lang}")}
    return {
        "given_name": form.get("given_name", ""), "family_name": form.get("family_name", ""),
        "email": form.get("email", ""), "date_of_birth": form.get("date_of_birth") or None,
        "nationality": labels.country_code(form.get("nationality", ""), current_language()),
        "languages": languages, "education": education,
        "departments": [d for d in (form.get(f"department{i}") for i in (1, 2, 3)) if d],
        "session": form.get("session") or None, "motivation": form.get("motivation", ""),
        "correspondence_language": form.get("correspondence_language") or None,
        "consent": form.get("consent") == "yes",
    }


def _field_errors(messages: dict) -> dict[str, str]:
    """The schema's errors as one message per form field, in the page's language."""
    errors = {}
    for name, value in messages.items():
        # education's fields are fields of the form; languages and departments are one group each
        names = [f"{name}.{sub}" for sub in value] if name == "education" and isinstance(value, dict) else [name]
        for field in names:
            errors[field] = str(labels.FIELD_ERRORS.get(field, labels.FIELD_ERROR_FALLBACK))
    return errors


def _document_errors(call: Call, exc: ApiError) -> dict[str, str]:
    """Each document's error, naming the document: two of them must not read the same."""
    errors = {}
    for kind in exc.fields:
        rule, code = call.document_rule(kind), exc.reasons.get(kind)
        errors[kind] = labels.document_refused(rule, code) if code else labels.document_missing(rule)
    return errors


def _motivation_error(call) -> dict[str, str]:
    """The motivation's word count against the call's bounds, counted as the service counts it."""
    low, high = call.rules["motivation_words"]
    words = len(request.form.get("motivation", "").split())
    return {} if low <= words <= high else {"motivation": labels.motivation_length(low=low, high=high, words=words)}


def _judge_uploads(call: Call, uploads: list[service.Upload], *,
                   required: bool) -> tuple[dict[str, str], list[service.Upload]]:
    """Each document's error, and the uploads accepted (kept for the next try)."""
    try:
        service.inspect_uploads(call=call, uploads=uploads, required=required)
    except ApiError as exc:
        return _document_errors(call, exc), [upload for upload in uploads if upload.kind not in exc.fields]
    return {}, uploads


# the form's fields from top to bottom, so that the error summary reads in the same order; the call's documents
# and the consent come after them
FORM_ORDER = ("given_name", "family_name", "email", "date_of_birth", "nationality", "languages",
              "education.institution", "education.degree_level", "education.field_of_study", "education.status",
              "education.year_of_study", "education.graduation_date", "departments", "session",
              "correspondence_language", "motivation")


def _in_form_order(errors: dict[str, str], call: Call) -> dict[str, str]:
    order = [*FORM_ORDER, *(rule["kind"] for rule in call.documents), "consent"]
    rank = {name: position for position, name in enumerate(order)}
    return dict(sorted(errors.items(), key=lambda item: rank.get(item[0], len(order))))


def _eligible_countries(call: Call, lang: str) -> list[str]:
    """The names, in `lang` and its order, of the countries whose nationals may apply to `call`."""
    eligible = set(call.rules["nationalities"])
    return [name for code, name in labels.countries(lang) if code in eligible]


def _render_form(*, errors: dict[str, str], form_errors: list[str], draft=None,
                 held: dict[str, HeldFile] | None = None):
    lang = current_language()
    call = open_call(session=db.session)
    errors = _in_form_order(errors, call)
    values = request.form if request.method == "POST" or draft is None else draft.values
    nationality = values.get("nationality", "")
    if len(nationality) == 2:  # a code kept from the API's shape reads as the country's name
        nationality = labels.country_name(nationality, lang)
    choices = {
        "cefr": [(level, str(labels.CEFR_LEVELS[level])) for level in CEFR],
        "degree_level": [(code, str(text)) for code, text in labels.DEGREE_LEVELS.items()],
        "education_status": [(code, str(text)) for code, text in labels.EDUCATION_STATUSES.items()],
        "departments": [(d["code"], d["name"].get(lang) or d["name"]["en"]) for d in call.departments],
        "sessions": [(code, labels.label(labels.SESSIONS, code)) for code in call.sessions],
        "languages": [(code, language_name(code)) for code in LANGUAGES],
    }
    documents = [{"kind": d["kind"], "required": d["required"], "hint": labels.document_hint(d),
                  "label": labels.document_name(d),
                  "accept": ",".join(labels.EXTENSIONS.get(t, t) for t in d["types"])} for d in call.documents]
    return render_template("apply.html", call=call, errors=errors, form_errors=form_errors, values=values,
                           nationality=nationality, countries=labels.countries(lang), choices=choices,
                           documents=documents, draft=draft, held=held or {}, held_prefix=HELD_FIELD_PREFIX,
                           eligible_countries=_eligible_countries(call, lang),
                           deadline_day=to_user_timezone(call.deadline).date().isoformat(),
                           study_rule={"after_bachelor": sorted(AFTER_BACHELOR), "bachelor_years": BACHELOR_YEARS})


@bp.route("/apply", methods=["GET", "POST"])
def apply():
    errors: dict[str, str] = {}
    form_errors: list[str] = []
    # the files judged acceptable when the form is refused anyway: kept, so they need not be attached again
    accepted_uploads: list[service.Upload] = []
    held: dict[str, HeldFile] = {}
    # drafts (intake-journey, services/intake/access/pages.py): a draft's link pre-fills the form; "Save draft" keeps it
    draft = access_pages.resumed_draft()
    if request.method == "POST":
        call = open_call(session=db.session)
        saving_draft = request.form.get("action") == "save_draft"
        uploads: list[service.Upload] = []
        try:
            # read once: a file's stream is empty the second time
            uploads = parse_uploads()
            uploads += access_pages.take_held_uploads(call=call, replaced={upload.kind for upload in uploads})
            if saving_draft:
                return access_pages.save_draft_from_form(call=call, draft=draft, uploads=uploads)
            payload = ApplicationSchema().load(_form_payload(request.form))
            accepted = accept_submission(payload=payload, uploads=uploads, key=None, draft=draft)
            # the same page for a first application and a duplicate: the way in is the emailed link
            session["received"] = {"reference": accepted.reference, "email": payload["email"]}
            sessions.end_draft()
            return redirect(url_for("pages.received", lang=current_language()))
        except ValidationError as exc:
            fields = _field_errors(exc.messages if isinstance(exc.messages, dict) else {})
            if saving_draft:
                # a draft asks for its address alone; a file sent with it is judged as the draft judges it
                document_errors, accepted_uploads = _judge_uploads(call, uploads, required=False)
                errors = {**fields, **document_errors}
            else:
                # the documents are judged too, so that one round shows every mistake
                document_errors, accepted_uploads = _judge_uploads(call, uploads, required=draft is None)
                errors = {**_motivation_error(call), **fields, **document_errors}
        except ApiError as exc:
            if exc.code == "invalid_fields" and "motivation" in exc.fields:
                document_errors, accepted_uploads = _judge_uploads(call, uploads, required=draft is None)
                errors = {**_motivation_error(call), **document_errors}
            else:
                errors = _document_errors(call, exc) if exc.reasons or exc.code == "invalid_documents" else {}
                accepted_uploads = [upload for upload in uploads if upload.kind not in exc.fields] if errors else []
            if not errors:
                form_errors = [str(labels.FORM_REFUSALS.get(exc.code, labels.FORM_REFUSAL_FALLBACK))]
    if accepted_uploads:
        held = access_pages.hold_uploads(call=open_call(session=db.session), uploads=accepted_uploads)
    return _render_form(errors=errors, form_errors=form_errors, draft=draft, held=held), \
        422 if errors or form_errors else 200


@bp.get("/apply/received")
def received():
    """After a submission: the reference, and the email that opens the application (a duplicate sees the same)."""
    shown = session.get("received")
    if not isinstance(shown, dict):
        return redirect(url_for("pages.apply", lang=current_language()))
    return render_template("received.html", reference=shown["reference"], email=shown["email"]), 200, \
        {"Cache-Control": "no-store"}


@bp.get("/start")
def start():
    """Before you start: who can apply, what to have ready, how long it takes and what happens next."""
    lang = current_language()
    call = open_call(session=db.session)
    documents = [{"label": labels.document_name(rule), "hint": labels.document_hint(rule), "required": rule["required"]}
                 for rule in call.documents]
    return render_template("start.html", call=call, documents=documents,
                           nationalities=_eligible_countries(call, lang),
                           sessions=[labels.label(labels.SESSIONS, code) for code in call.sessions])


@bp.get("/")
def index():
    return redirect(url_for("pages.start"))
