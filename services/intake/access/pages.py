"""The way back in, as pages: "find my application", expiring status links, drafts saved from the form."""
from __future__ import annotations

import logging

from flask import Blueprint, Flask, current_app, make_response, render_template, request
from marshmallow import ValidationError

from services.intake import limits
from services.intake.access import service
from services.intake.access.models import Draft
from services.intake.access.schemas import AccessLinkRequestSchema
from services.intake.applications.service import Upload
from services.intake.db import db
from services.intake.i18n import LANGUAGES, current_language
from services.intake.portal import sessions
from services.intake.portal.service import email_draft_link, email_link
from services.intake.programme.models import Call
from shared.documents import DocumentStore

log = logging.getLogger(__name__)
bp = Blueprint("access", __name__)
# the form's hidden fields that point to the files a refused form kept (service.hold_uploads)
HELD_FIELD_PREFIX = service.HELD_FIELD_PREFIX


def _settings():
    return current_app.config["SETTINGS"]


def _send_status_links(app: Flask, email: str) -> None:
    with app.app_context():
        # one count against the recipient's limit, however many applications the address has
        if not limits.may_email(email):
            return
        try:
            for application in service.applications_of(session=db.session, email=email):
                email_link(session=db.session, application=application, counted=True)
                log.info("status link requested", extra={"reference": application.reference})
            db.session.commit()
        except Exception:
            # the applicant already has their answer; what failed is in the log, and they may ask again
            db.session.rollback()
            log.exception("status links not sent")
        finally:
            db.session.remove()


def send_status_links_after_response(body, status: int, *, email: str):
    """`body` at once; the lookup and the emails after it is sent, so known and unknown addresses look alike."""
    response = make_response(body, status)
    # the app itself, not the proxy: the lookup runs once the request context is gone
    app = current_app._get_current_object()  # type: ignore[attr-defined]  # Flask types the proxy as Flask
    response.call_on_close(lambda: _send_status_links(app, email))
    return response


@bp.route("/find", methods=["GET", "POST"])
def find():
    errors: dict[str, list[str]] = {}
    email = request.form.get("email", "")
    if request.method == "POST":
        try:
            AccessLinkRequestSchema().load({"email": email})
        except ValidationError as exc:
            errors = exc.normalized_messages()
        else:
            return send_status_links_after_response(render_template("access/find_sent.html"), 200, email=email)
    return render_template("access/find.html", errors=errors, email=email), 422 if errors else 200


def resumed_draft() -> Draft | None:
    """The draft this browser edits (its emailed link started a draft session), or None."""
    reference = sessions.draft_reference()
    if reference is None:
        return None
    draft = service.find_draft(session=db.session, reference=reference)
    if draft is None:  # submitted since, or purged
        sessions.end_draft()
    return draft


def save_draft_from_form(*, call: Call, draft: Draft | None, uploads: list[Upload]):
    """Keep the form as typed (and any valid document in `uploads`), email the link to come back, say so."""
    settings = _settings()
    typed = request.form.get("correspondence_language")
    language = typed if typed in LANGUAGES else current_language()
    draft = service.save_draft(session=db.session, call=call, draft=draft, values=service.draft_values(request.form),
                               uploads=uploads, store=DocumentStore.of(settings), language=language)
    email_draft_link(session=db.session, draft=draft, language=language)
    db.session.commit()
    # this browser goes on with the same draft if it saves again
    sessions.start_draft(draft.reference)
    log.info("draft saved", extra={"reference": draft.reference})
    return render_template("access/draft_saved.html", draft=draft, days=settings.draft_retention_days)


def take_held_uploads(*, call: Call, replaced: set[str]) -> list[Upload]:
    """The files a refused form kept for this try (its `held.<kind>` fields), except those chosen again."""
    sent = {rule["kind"]: request.form.get(f"{HELD_FIELD_PREFIX}{rule['kind']}", "") for rule in call.documents}
    return service.take_held_uploads(session=db.session, call=call, secrets_by_kind=sent, replaced=replaced,
                                     store=DocumentStore.of(_settings()))


def hold_uploads(*, call: Call, uploads: list[Upload]) -> dict[str, service.HeldFile]:
    """Keep the accepted files of a refused form for the next try; the ids the form carries back, by kind."""
    held = service.hold_uploads(session=db.session, call=call, uploads=uploads, store=DocumentStore.of(_settings()))
    db.session.commit()
    return held

