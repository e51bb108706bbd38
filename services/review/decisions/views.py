"""Recording and releasing decisions, one or many, from the API, the application page and the list."""
from __future__ import annotations

from urllib.parse import parse_qsl

from flask import Blueprint, abort, flash, g, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _, ngettext
from marshmallow import ValidationError

from services.review.accounts.auth import (api_admin_required, api_staff_required, page_admin_required,
                                           page_staff_required)
from services.review.applications.schemas import ListArgs, clean_args, url_args
from services.review.applications.service import get_application
from services.review.db import db
from services.review.i18n import status_label
from services.review.decisions import service
from services.review.decisions.forms import (AcceptProposalForm, BulkDecisionForm, BulkReleaseForm, DecisionForm,
                                             ProposalForm, ReleaseForm)
from services.review.decisions.schemas import (AcceptProposalIn, BulkDecisionIn, BulkResultOut, DecisionIn,
                                               DecisionOut, ProposalIn, ProposalOut, ReleasableOut, ReleaseIn)
from shared.web import ApiError

bp = Blueprint("decisions", __name__)
api = Blueprint("decisions_api", __name__, url_prefix="/api/v1")


def _decision_word(decision: str) -> str:
    """A decision as a sentence names it: "shortlisted", "présélectionné"."""
    return status_label(decision).lower()


def _flash_errors(form) -> None:
    """A refused form's messages, for the page the user is sent back to."""
    for errors in form.errors.values():
        for message in errors:
            flash(message, "error")


def _on_application_page(reference: str, form, act, done, *, abort_on=(404,)):
    """Run `act()` for a form posted from the application page and go back there, saying what happened."""
    back = redirect(url_for("applications.detail_page", reference=reference))
    if not form.validate_on_submit():
        _flash_errors(form)
        return back
    try:
        result = act()
    except ApiError as exc:
        db.session.rollback()
        if exc.status in abort_on:
            abort(exc.status, exc.message)
        flash(exc.message, "error")
        return back
    db.session.commit()
    flash(done(result), "success")
    return back


def _api_act(reference: str, act, schema_in, schema_out):
    """`act` on one application with the posted JSON as `schema_in` loads it, committed; the result as JSON."""
    payload = schema_in.load(request.get_json(silent=True) or {})
    result = act(session=db.session, staff=g.staff, reference=reference, **payload)
    db.session.commit()
    return jsonify(schema_out.dump(result))


@api.post("/applications/<reference>/decision")
@api_admin_required
def record_api(reference: str):
    return _api_act(reference, service.record_decision, DecisionIn(), DecisionOut())


@api.post("/decisions/release")
@api_admin_required
def release_api():
    payload = ReleaseIn().load(request.get_json(silent=True) or {})
    confirmed = {item["reference"]: item["version"] for item in reversed(payload["decisions"])}
    references = payload["references"] + [item["reference"] for item in payload["decisions"]]
    released, skipped = service.release_decisions(session=db.session, staff=g.staff, references=references,
                                                  versions=confirmed)
    db.session.commit()
    return jsonify({"released": released, "skipped": skipped})


@bp.post("/applications/<reference>/decision")
@page_admin_required
def record_page(reference: str):
    form = DecisionForm()
    return _on_application_page(
        reference, form,
        lambda: service.record_decision(session=db.session, staff=g.staff, reference=reference,
                                        decision=form.decision.data, reason_code=form.reason_code.data or None,
                                        note=form.note.data or None),
        lambda decision: _("Decision recorded: %(decision)s. It is not sent to the candidate until released.",
                           decision=_decision_word(decision.decision)))


@bp.route("/applications/<reference>/release", methods=["GET", "POST"])
@page_admin_required
def release_page(reference: str):
    application = get_application(session=db.session, staff=g.staff, reference=reference)
    decision = service.decision_for(session=db.session, reference=reference)
    if application is None:
        abort(404, "No such application.")
    form = ReleaseForm(version=decision.version if decision else None)
    if request.method == "POST":
        if not form.validate_on_submit():
            _flash_errors(form)
            return redirect(url_for("decisions.release_page", reference=reference))
        released, skipped = service.release_decisions(session=db.session, staff=g.staff, references=[reference],
                                                      versions={reference: form.version.data})
        db.session.commit()
        if released:
            assert decision is not None, "only a recorded decision is released"
            flash(_("Decision released: %(decision)s. The candidate will be told.",
                    decision=_decision_word(decision.decision)), "success")
        elif skipped[0]["reason"] == "changed":
            assert decision is not None, "only a recorded decision can have changed"
            flash(_("Nothing released: the decision was changed after you confirmed it (it is now "
                    "%(decision)s). Check it and confirm again.", decision=_decision_word(decision.decision)),
                  "error")
        else:
            flash(_("Nothing released (%(reason)s).", reason=skipped[0]["reason"].replace("_", " ")), "error")
        return redirect(url_for("applications.detail_page", reference=reference))
    return render_template("decisions/confirm_release.html", application=application, decision=decision,
                           form=form)


RELEASE_FILTERS = ("department", "eligible", "duplicate", "reviewer", "score_min", "score_max", "q")


def _release_filters() -> dict:
    """The list's filters (not its status, sort or page) that choose what a release sends."""
    return ListArgs(only=RELEASE_FILTERS).load(clean_args(request.args))


def _back_to_list(view: str | None):
    """Back to the list as the admin filtered it; `view` is its query string, re-checked."""
    try:
        args = ListArgs().load(clean_args(dict(parse_qsl(view or ""))))
    except ValidationError:
        args = {}
    return redirect(url_for("applications.list_page", **url_args(args)))


@api.post("/decisions/bulk")
@api_admin_required
def bulk_api():
    payload = BulkDecisionIn().load(request.get_json(silent=True) or {})
    results = service.record_decisions(session=db.session, staff=g.staff, **payload)
    db.session.commit()
    return jsonify({"results": BulkResultOut(many=True).dump(results),
                    "recorded": sum(r["recorded"] for r in results)})


@api.get("/decisions/releasable")
@api_admin_required
def releasable_api():
    found = service.releasable(session=db.session, staff=g.staff, **_release_filters())
    return jsonify(ReleasableOut().dump(found))


@bp.post("/decisions/bulk")
@page_admin_required
def bulk_page():
    form = BulkDecisionForm()
    if not form.validate_on_submit():
        _flash_errors(form)
        return _back_to_list(request.form.get("view"))
    results = service.record_decisions(session=db.session, staff=g.staff, references=form.references.data,
                                       decision=form.decision.data, reason_code=form.reason_code.data,
                                       note=form.note.data or None)
    db.session.commit()
    recorded = [r["reference"] for r in results if r["recorded"]]
    if recorded:
        flash(ngettext("Decision %(decision)s recorded for %(num)d application. Nothing is sent until released.",
                       "Decision %(decision)s recorded for %(num)d applications. Nothing is sent until released.",
                       len(recorded), decision=_decision_word(form.decision.data)), "success")
    for refused in (r for r in results if not r["recorded"]):
        flash(f"{refused['reference']}: {refused['message']}", "error")
    return _back_to_list(request.form.get("view"))


@bp.route("/decisions/release", methods=["GET", "POST"])
@page_admin_required
def release_list_page():
    form = BulkReleaseForm()
    if request.method == "POST":
        if not form.validate_on_submit():
            _flash_errors(form)
            return _back_to_list(request.form.get("view"))
        confirmed = dict(_confirmed(value) for value in form.decisions.data)
        released, skipped = service.release_decisions(session=db.session, staff=g.staff,
                                                      references=list(confirmed), versions=confirmed)
        db.session.commit()
        flash(ngettext("%(num)d decision released; the candidates will be told.",
                       "%(num)d decisions released; the candidates will be told.", len(released)),
              "success" if released else "error")
        if skipped:
            flash(_("%(num)d not released: %(which)s", num=len(skipped), which=", ".join(
                f"{s['reference']} ({s['reason'].replace('_', ' ')})" for s in skipped)), "error")
        return _back_to_list(request.form.get("view"))
    try:
        filters = _release_filters()
    except ValidationError:
        abort(400, "Invalid filter.")
    found = service.releasable(session=db.session, staff=g.staff, **filters)
    return render_template("decisions/confirm_release_list.html", found=found, filters=filters, form=form,
                           view=request.query_string.decode())


def _confirmed(value: str) -> tuple[str, int]:
    """`REFERENCE:VERSION` as the confirmation page posts it."""
    reference, _, version = value.rpartition(":")
    if not reference or not version.isdigit():
        abort(400, "The confirmation is damaged; reload the page.")
    return reference, int(version)


@api.post("/applications/<reference>/proposal")
@api_staff_required
def propose_api(reference: str):
    return _api_act(reference, service.propose_decision, ProposalIn(), ProposalOut())


@api.post("/applications/<reference>/proposal/accept")
@api_admin_required
def accept_proposal_api(reference: str):
    return _api_act(reference, service.accept_proposal, AcceptProposalIn(), DecisionOut())


@bp.post("/applications/<reference>/proposal")
@page_staff_required
def propose_page(reference: str):
    form = ProposalForm(prefix="proposal")
    return _on_application_page(
        reference, form,
        lambda: service.propose_decision(session=db.session, staff=g.staff, reference=reference,
                                         decision=form.decision.data, reason_code=form.reason_code.data,
                                         note=form.note.data or None),
        lambda _proposal: _("Proposal recorded: the programme office will decide."), abort_on=(403, 404))


@bp.post("/applications/<reference>/proposal/accept")
@page_admin_required
def accept_proposal_page(reference: str):
    form = AcceptProposalForm()
    return _on_application_page(
        reference, form,
        lambda: service.accept_proposal(session=db.session, staff=g.staff, reference=reference,
                                        version=form.version.data),
        lambda decision: _("Proposal accepted: %(decision)s recorded. It is not sent to the candidate until "
                           "released.", decision=_decision_word(decision.decision)))
