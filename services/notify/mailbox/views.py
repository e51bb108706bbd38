"""`/mailbox` (HTML) and `/mailbox.json`: the mail caught in embedded mode."""
from __future__ import annotations

from dataclasses import asdict

from flask import Blueprint, abort, current_app, jsonify, render_template

from services.notify.mailbox.service import list_messages, read_message

bp = Blueprint("mailbox", __name__)


def _mail_dir():
    return current_app.config["SETTINGS"].mail_dir


@bp.get("/mailbox")
def index():
    return render_template("mailbox/index.html", messages=list_messages(_mail_dir()))


@bp.get("/mailbox.json")
def index_json():
    return jsonify([{k: v for k, v in asdict(m).items() if k != "html"} for m in list_messages(_mail_dir())])


@bp.get("/mailbox/<name>")
def show(name: str):
    message = read_message(_mail_dir(), name)
    if message is None:
        abort(404)
    return render_template("mailbox/message.html", message=message)
