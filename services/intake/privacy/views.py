"""Data protection, applicant side (the notice, export, erasure on request) and review's internal API.

Internal routes (`/internal/v1/privacy/...`) take `PRIVACY_API_KEY` as a bearer key: review erases, exports
and reads statistics with it. It is not the sync key (which only reads) and cannot act as an applicant.
"""
from __future__ import annotations

import hmac
import logging

from flask import Blueprint, Response, abort, current_app, make_response, render_template, request
from flask_babel import gettext as _
from marshmallow import Schema, fields, validate
from sqlalchemy import select

from services.intake.applications import service as applications
from services.intake.applications.views import applicant_token_arg
from services.intake.db import db
from services.intake.i18n import current_language
from services.intake.privacy import confirmation, erasure, notice as notices
from services.intake.privacy.export import build_export, fetch_access_log
from services.intake.privacy.schemas import ErasureRequestedSchema
from services.intake.privacy.statistics import call_statistics
from services.intake.programme.models import Call
from services.intake.programme.service import open_call
from shared.auth import bearer_token
from shared.documents import DocumentStore
from shared.web import ApiError

log = logging.getLogger(__name__)
bp = Blueprint("privacy", __name__, template_folder="templates")
internal = Blueprint("privacy_internal", __name__, url_prefix="/internal/v1/privacy")
PRIVATE = {"Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}


def _settings():
    return current_app.config["SETTINGS"]


def _store() -> DocumentStore:
    return DocumentStore.of(_settings())


def _zip(data: bytes, reference: str) -> Response:
    return Response(data, mimetype="application/zip", headers={
        "Content-Disposition": f'attachment; filename="{reference}-my-data.zip"', **PRIVATE})


def _message(title: str, text: str, status: int = 200):
    return render_template("privacy/message.html", title=title, text=text), status, PRIVATE


def _applicant(reference: str, token: str | None):
    return applications.find_for_applicant(session=db.session, reference=reference,
                                           token=applicant_token_arg(token),
                                           token_key=_settings().applicant_token_key)


def _applicant_page(reference: str):
    """The application this browser's portal session opens (services/intake/portal), for the HTML pages."""
    from services.intake.portal.pages import signed_in  # the portal's pages build on this module's
    return signed_in(reference)


# ---- the notice ---------------------------------------------------------------------------------------

@bp.get("/privacy")
def notice_page():
    version = request.args.get("version") or notices.current_version()
    shown = notices.notice(version[:20], current_language())
    if shown is None:
        abort(404, _("There is no such version of the privacy notice."))
    return render_template("privacy/notice.html", notice=shown, versions=notices.versions(),
                           current=notices.current_version())


def erased_page(reference: str):
    """What the status page shows once the application is erased."""
    return _message(_("Application erased"), _("Application %(reference)s and the personal data it held have "
                                               "been erased.", reference=reference), 410)


# ---- export -------------------------------------------------------------------------------------------

def _export(application) -> Response:
    data = build_export(application=application, store=_store(),
                        access_log=fetch_access_log(_settings(), application.reference))
    db.session.rollback()
    log.info("export downloaded by the applicant", extra={"reference": application.reference})
    return _zip(data, application.reference)


@bp.get("/api/v1/applications/<reference>/export")
def export_api(reference: str):
    return _export(_applicant(reference, bearer_token(request.headers.get("Authorization"))))


@bp.get("/privacy/export/<reference>")
def export_page(reference: str):
    return _export(_applicant_page(reference))


# ---- erasure on request ---------------------------------------------------------------------------------

@bp.get("/privacy/erase/<reference>")
def erase_request_page(reference: str):
    application = _applicant_page(reference)
    return render_template("privacy/erase_request.html", application=application), 200, PRIVATE


@bp.post("/privacy/erase/<reference>")
def erase_request(reference: str):
    application = _applicant_page(reference)
    confirmation.request_erasure(session=db.session, application=application, settings=_settings())
    db.session.commit()
    return _message(_("Check your email"), _("We have sent a confirmation link to the address you applied "
                                             "with. Your data is erased only once you follow it and confirm."))


@bp.post("/api/v1/applications/<reference>/erasure-request")
def erase_request_api(reference: str):
    application = _applicant(reference, bearer_token(request.headers.get("Authorization")))
    confirmation.request_erasure(session=db.session, application=application, settings=_settings())
    db.session.commit()
    return ErasureRequestedSchema().dump({"reference": reference, "status": "confirmation_sent"}), 202


def _link_reference(token: str | None) -> str:
    """The reference of an erasure link; an applicant's page, not JSON, when the link cannot be used."""
    try:
        return confirmation.confirmed_reference(_settings(), token)
    except ApiError as exc:
        title = _("This link has expired") if exc.code == "link_expired" else _("This link is not valid")
        abort(make_response(_message(title, _("Ask again for the erasure from your application's status page."),
                                     exc.status)))


@bp.get("/privacy/erase/confirm")
def erase_confirm_page():
    token = request.args.get("t")
    reference = _link_reference(token)
    # following the link does not erase: mail scanners open links too; the applicant confirms with a button
    return render_template("privacy/erase_confirm.html", reference=reference, token=token), 200, PRIVATE


@bp.post("/privacy/erase/confirm")
def erase_confirm():
    reference = _link_reference(request.form.get("t"))
    erasure.run_erasure(session=db.session, store=_store(), reference=reference, reason=erasure.APPLICANT)
    return _message(_("Your data has been erased"), _("Your application %(reference)s and the personal data it "
                                                      "held have been erased from every part of our service.",
                                                      reference=reference))


# ---- review's internal API ------------------------------------------------------------------------------

@internal.before_request
def _require_privacy_key():
    expected = _settings().privacy_api_key
    given = bearer_token(request.headers.get("Authorization"))
    if not expected or given is None or not hmac.compare_digest(given.encode(), expected.encode()):
        raise ApiError(401, "unauthorized", "Send the privacy API key as a bearer token.")


class EraseRequest(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=3, max=500))


def _erased_body(tombstone) -> dict:
    return {"reference": tombstone.reference, "status": "erased", "final_status": tombstone.final_status,
            "erased_at": tombstone.erased_at.isoformat()}


@internal.post("/applications/<reference>/erase")
def erase_internal(reference: str):
    args = EraseRequest().load(request.get_json(silent=True) or {})
    tombstone = erasure.run_erasure(session=db.session, store=_store(), reference=reference, reason=args["reason"])
    if tombstone is None:
        raise ApiError(404, "not_found", "No application with this reference.")
    return _erased_body(tombstone)


@internal.get("/applications/<reference>/export")
def export_internal(reference: str):
    application = erasure.load_application(session=db.session, reference=reference)
    if application is None:
        tombstone = erasure.find_tombstone(session=db.session, reference=reference)
        if tombstone is not None:
            raise ApiError(410, "erased", "This application's personal data has been erased.")
        raise ApiError(404, "not_found", "No application with this reference.")
    # review adds its own access log to what it hands the admin
    data = build_export(application=application, store=_store(), access_log=None)
    db.session.rollback()
    return _zip(data, reference)


@internal.get("/statistics")
def statistics():
    code = request.args.get("call")
    if code:
        call = db.session.scalar(select(Call).where(Call.code == code[:40]))
        if call is None:
            raise ApiError(404, "not_found", "No call with this code.")
    else:
        call = open_call(session=db.session)
    body = call_statistics(session=db.session, call=call)
    db.session.rollback()
    return body
