"""The portal's pages: the emailed link that starts a session, the application's page and its actions.

Every page here acts only on the application the session was started for; the address never holds a secret.
"""
from __future__ import annotations

import logging

from flask import Blueprint, abort, current_app, make_response, redirect, render_template, request, url_for

from services.intake import labels
from services.intake.access.service import find_draft
from services.intake.applications import service
from services.intake.applications.models import Application
from services.intake.applications.status import can_change
from services.intake.applications.words import problem_sentence
from services.intake.applications.views import parse_uploads
from services.intake.db import db
from services.intake.i18n import current_language
from services.intake.portal import links, sessions
from services.intake.portal.service import email_draft_link, email_link
from services.intake.privacy.erasure import find_tombstone
from services.intake.privacy.views import erased_page
from services.intake.programme.models import Call
from shared.documents import DocumentStore
from shared.web import ApiError

log = logging.getLogger(__name__)
bp = Blueprint("portal", __name__, template_folder="templates")
PRIVATE = {"Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}
bp.add_app_template_global(labels.document_name, "document_name")
bp.add_app_template_global(labels.document_hint, "document_hint")
# the sentences the emails say too (applications/words.py)
bp.add_app_template_global(problem_sentence, "problem_sentence")


@bp.app_template_global()
def next_step(status: str) -> str:
    return labels.label(labels.NEXT_STEPS, status)


def _page(template: str, status: int = 200, **context):
    return make_response(render_template(template, **context), status, PRIVATE)


@bp.get("/access/<secret>")
def open_link(secret: str):
    """Spend an emailed link, start a session for its application, and show the application at a clean address."""
    try:
        reference = links.redeem(session=db.session, secret=secret)
    except links.LinkRefused as refused:
        db.session.rollback()
        return _page("portal/link_refused.html", 410 if refused.reference else 404, problem=refused.problem,
                     secret=secret if refused.reference else None)
    application = service.find_application(session=db.session, reference=reference)
    if application is None:
        db.session.commit()
        if find_draft(session=db.session, reference=reference) is not None:
            # a draft's link: the form, filled in, in this browser
            sessions.start_draft(reference)
            return redirect(url_for("pages.apply", lang=current_language()), 303)
        if find_tombstone(session=db.session, reference=reference) is not None:
            return erased_page(reference)
        # a draft deleted after being left too long
        return _page("portal/link_refused.html", 410, problem="draft_gone", secret=None)
    sessions.start(application)
    db.session.commit()
    log.info("portal opened by link", extra={"reference": reference})
    response = redirect(url_for("portal.application", reference=reference, lang=current_language()), 303)
    response.headers.update(PRIVATE)
    return response


@bp.post("/access/fresh")
def fresh_link():
    """A used or expired link asks for a new one, emailed to the address the application was sent from."""
    reference = links.reference_of(session=db.session, secret=request.form.get("secret", ""))
    application = service.find_application(session=db.session, reference=reference) if reference else None
    draft = find_draft(session=db.session, reference=reference) if reference and application is None else None
    if application is not None:
        email_link(session=db.session, application=application)
    elif draft is not None:
        email_draft_link(session=db.session, draft=draft, language=current_language())
    db.session.commit()
    # the same answer whatever the link was: it says nothing about the address
    return _page("portal/fresh_link_sent.html")


def signed_in(reference: str, *, lock: bool = False) -> Application:
    """The application this browser's session opens, or the page that says how to get in (never its data)."""
    application = service.find_application(session=db.session, reference=reference, lock=lock)
    if application is not None and sessions.holds(application):
        return application
    if application is None and sessions.reference_signed_in() == reference \
            and find_tombstone(session=db.session, reference=reference) is not None:
        abort(make_response(erased_page(reference)))
    abort(_page("portal/sign_in.html", 401, reference=reference))


def _call(application: Application) -> Call:
    return db.session.get_one(Call, application.call_id)


def _portal(application: Application, *, status: int = 200, errors: dict | None = None, notice: str | None = None):
    call = _call(application)
    response = _page("portal/application.html", status, application=application, call=call, errors=errors or {},
                     notice=notice, can_withdraw=can_change(application.status, "withdrawn"),
                     can_add_documents=application.status == "incomplete")
    return response


@bp.get("/status/<reference>")
def application(reference: str):
    return _portal(signed_in(reference), notice=request.args.get("done"))


@bp.route("/status/<reference>/withdraw", methods=["GET", "POST"])
def withdraw(reference: str):
    if request.method == "GET":
        application = signed_in(reference)
        if not can_change(application.status, "withdrawn"):
            return redirect(url_for("portal.application", reference=reference, lang=current_language()), 303)
        return _page("portal/withdraw.html", application=application)
    application = signed_in(reference, lock=True)
    service.withdraw(session=db.session, application=application)
    db.session.commit()
    # withdrawal ends every session of the application, this one too
    sessions.end()
    log.info("application withdrawn from the portal", extra={"reference": reference})
    return _page("portal/withdrawn.html", reference=reference)


@bp.post("/status/<reference>/documents")
def add_documents(reference: str):
    application = signed_in(reference, lock=True)
    if application.status != "incomplete":  # checked again since the page was shown: nothing to add now
        return redirect(url_for("portal.application", reference=reference, lang=current_language()), 303)
    try:
        service.add_documents(session=db.session, call=_call(application), application=application,
                              uploads=parse_uploads(), store=DocumentStore.of(current_app.config["SETTINGS"]))
    except ApiError as exc:
        db.session.rollback()
        return _portal(signed_in(reference), status=422, errors=_document_errors(exc))
    db.session.commit()
    return redirect(url_for("portal.application", reference=reference, lang=current_language(),
                            done="documents"), 303)


def _document_errors(exc: ApiError) -> dict[str, str]:
    """Each refused document's reason in words; a request with no file at all says so."""
    errors = {kind: str(labels.DOCUMENT_REFUSALS.get(exc.reasons.get(kind, ""), labels.DOCUMENT_REFUSED))
              for kind in exc.fields}
    return errors or {"documents": str(labels.NO_DOCUMENT_CHOSEN)}


@bp.post("/status/<reference>/sign-out")
def sign_out(reference: str):
    sessions.end()
    return _page("portal/signed_out.html", reference=reference, everywhere=False)


@bp.post("/status/<reference>/sign-out-everywhere")
def sign_out_everywhere(reference: str):
    application = signed_in(reference, lock=True)
    service.sign_out_everywhere(application=application)
    db.session.commit()
    sessions.end()
    log.info("applicant signed out everywhere", extra={"reference": reference})
    return _page("portal/signed_out.html", reference=reference, everywhere=True)
