"""The applicants' HTML pages: the form (English and French) and the status page."""
from __future__ import annotations

from flask import Blueprint, Flask, current_app, redirect, render_template, request, url_for
from flask_wtf.csrf import CSRFError, CSRFProtect
from marshmallow import ValidationError
from sqlalchemy.exc import IntegrityError

from services.intake.applications import service
from services.intake.applications.checks import PROGRAMME_TZ
from services.intake.applications.schemas import DEPARTMENT_CODES, ApplicationSchema
from services.intake.applications.views import applicant_token_arg, parse_uploads
from services.intake.db import db
from services.intake.programme.service import open_call
from shared.documents import DocumentStore
from shared.web import ApiError, error_response, wants_json

bp = Blueprint("pages", __name__)
csrf = CSRFProtect()
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CSRF_EXEMPT_PREFIXES = ("/api/", "/internal/")

STATUS_LABELS = {
    "en": {"draft": "draft", "submitted": "received", "checking": "being checked", "under_review": "under review",
           "incomplete": "incomplete: documents needed", "ineligible": "not eligible", "shortlisted": "shortlisted",
           "reserve": "on the reserve list", "rejected": "not selected", "withdrawn": "withdrawn"},
    "fr": {"draft": "brouillon", "submitted": "reçue", "checking": "en cours de vérification",
           "under_review": "en cours d'examen", "incomplete": "incomplète : documents à fournir",
           "ineligible": "non éligible", "shortlisted": "présélectionnée", "reserve": "sur liste de réserve",
           "rejected": "non retenue", "withdrawn": "retirée"},
}

TEXT = {
    "en": {"title": "Apply", "status": "Application status", "submit": "Submit my application",
           "fix": "Please correct the highlighted fields.", "other": "Français", "other_lang": "fr"},
    "fr": {"title": "Postuler", "status": "Suivi de candidature", "submit": "Envoyer ma candidature",
           "fix": "Veuillez corriger les champs signalés.", "other": "English", "other_lang": "en"},
}


def _lang() -> str:
    lang = request.args.get("lang") or request.form.get("lang")
    if lang not in TEXT:
        lang = request.accept_languages.best_match(["en", "fr"]) or "en"
    return lang


@bp.app_template_global()
def other_language_url() -> str:
    """This page in the other language, keeping its query (a status page's key)."""
    args = {**request.args, "lang": TEXT[_lang()]["other_lang"]}
    return url_for(request.endpoint or "pages.apply", **(request.view_args or {}), **args)


@bp.app_template_filter()
def brussels(moment) -> str:
    return moment.astimezone(PROGRAMME_TZ).strftime("%Y-%m-%d %H:%M (Brussels time)")


def error_page(exc):
    return render_template("error.html", error=exc, lang=_lang(), t=TEXT[_lang()]), exc.code or 500


CSRF_MESSAGE = {
    "en": "This form has expired or was not sent from our site. Please check your answers, attach your documents "
          "again and submit.",
    "fr": "Ce formulaire a expiré ou n'a pas été envoyé depuis notre site. Vérifiez vos réponses, joignez à nouveau "
          "vos documents et envoyez-le.",
}


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
        lang = _lang()
        if wants_json():
            return error_response(400, "csrf_failed", f"{exc.description} {CSRF_MESSAGE['en']}")
        if request.endpoint == "pages.apply":
            # the applicant keeps what they typed; only the files must be attached again
            call = open_call(session=db.session)
            return render_template("apply.html", call=call, lang=lang, t=TEXT[lang],
                                   errors={"_form": [CSRF_MESSAGE[lang]]}, values=request.form,
                                   departments=DEPARTMENT_CODES), 400
        exc.description = CSRF_MESSAGE[lang]
        return error_page(exc)


def _form_payload(form) -> dict:
    """The form's fields in the API's shape, so one schema judges both."""
    education = {k: form.get(f"education.{k}") or None for k in
                 ("institution", "degree_level", "field_of_study", "status", "year_of_study", "graduation_date")}
    languages = {lang: form.get(f"languages.{lang}") for lang in ("en", "fr") if form.get(f"languages.{lang}")}
    return {
        "given_name": form.get("given_name", ""), "family_name": form.get("family_name", ""),
        "email": form.get("email", ""), "date_of_birth": form.get("date_of_birth") or None,
        "nationality": form.get("nationality", "").upper(), "languages": languages, "education": education,
        "departments": [d for d in (form.get(f"department{i}") for i in (1, 2, 3)) if d],
        "session": form.get("session") or None, "motivation": form.get("motivation", ""),
        "correspondence_language": form.get("correspondence_language") or None,
        "consent": form.get("consent") == "yes",
    }


@bp.route("/apply", methods=["GET", "POST"])
def apply():
    lang = _lang()
    call = open_call(session=db.session)
    errors, values = {}, request.form
    if request.method == "POST":
        try:
            payload = ApplicationSchema().load(_form_payload(request.form))
            uploads = parse_uploads()
            application, _ = service.submit_application(
                session=db.session, call=call, payload=payload, uploads=uploads, idempotency_key=None,
                store=DocumentStore(current_app.config["SETTINGS"].documents_dir))
            db.session.commit()
            token = service.applicant_token(current_app.config["SETTINGS"].applicant_token_key, application.reference)
            return redirect(url_for("pages.status", reference=application.reference, token=token, lang=lang,
                                    new=1))
        except ValidationError as exc:
            errors = exc.messages
        except ApiError as exc:
            errors = exc.fields or {"_form": [exc.message]}
        except IntegrityError:
            db.session.rollback()
            errors = {"_form": ["An application for this person already exists."]}
    return render_template("apply.html", call=call, lang=lang, t=TEXT[lang], errors=errors, values=values,
                           departments=DEPARTMENT_CODES), 422 if errors else 200


@bp.get("/status/<reference>")
def status(reference: str):
    lang = _lang()
    if not request.args.get("token"):
        # the link in our emails carries no secret: ask for the key given at submission
        return render_template("status_key.html", reference=reference, lang=lang, t=TEXT[lang])
    application = service.find_for_applicant(session=db.session, reference=reference,
                                             token=applicant_token_arg(request.args.get("token")),
                                             token_key=current_app.config["SETTINGS"].applicant_token_key)
    html = render_template("status.html", application=application, lang=lang, t=TEXT[lang],
                           labels=STATUS_LABELS[lang], new=request.args.get("new") == "1")
    # the address holds the applicant's key: never sent on as a referrer, never kept by a shared browser's cache
    return html, 200, {"Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}


@bp.get("/")
def index():
    return redirect(url_for("pages.apply"))
