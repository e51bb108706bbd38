"""The audit log for admins: a filterable page and the same as JSON."""
from __future__ import annotations

from flask import Blueprint, abort, jsonify, render_template, request
from marshmallow import ValidationError

from services.review.accounts.auth import api_admin_required, page_admin_required
from services.review.applications.schemas import clean_args
from services.review.audit import service
from services.review.audit.schemas import AuditArgs, AuditEntryOut
from services.review.db import db

bp = Blueprint("audit", __name__)
api = Blueprint("audit_api", __name__, url_prefix="/api/v1")


def _search(args: dict) -> service.AuditPage:
    return service.search(session=db.session, actor=args["actor"], action=args["action"],
                          reference=args["reference"], since=args["since_at"], until=args["until_at"],
                          page=args["page"])


@bp.get("/audit")
@page_admin_required
def audit_page():
    try:
        args = AuditArgs().load(clean_args(request.args))
    except ValidationError as exc:
        abort(400, "Invalid filter: " + ", ".join(sorted(exc.messages)))
    query = {k: request.args[k] for k in ("actor", "action", "reference", "since", "until") if request.args.get(k)}
    return render_template("audit/list.html", result=_search(args), args=args, query=query,
                           actions=service.actions(session=db.session))


@api.get("/audit")
@api_admin_required
def audit_api():
    args = AuditArgs().load(clean_args(request.args))
    result = _search(args)
    return jsonify({"items": AuditEntryOut(many=True).dump(result.items), "page": result.page,
                    "per_page": result.per_page, "total": result.total})
