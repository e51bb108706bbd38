"""`/mailbox` (HTML) and `/mailbox.json`: the mail caught in embedded mode, for this machine only."""
from __future__ import annotations

import ipaddress
from dataclasses import asdict

from flask import Blueprint, abort, current_app, jsonify, render_template, request

from services.notify.mailbox.service import list_messages, read_message

bp = Blueprint("mailbox", __name__)

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")


def _mail_dir():
    return current_app.config["SETTINGS"].mail_dir


def is_loopback(address: str | None) -> bool:
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


def allowed_hosts(server_port: str) -> set[str]:
    """The Host headers a browser on this machine sends: a loopback name and the port we listen on."""
    hosts = {f"{name}:{server_port}" for name in LOOPBACK_NAMES}
    if server_port == "80":
        hosts |= set(LOOPBACK_NAMES)  # a browser leaves the default port out
    return hosts


@bp.before_request
def _only_this_machine():
    # Every candidate's mail is here: answer only connections from this machine, and only under a loopback
    # name, so that a web page whose domain re-resolves to 127.0.0.1 (DNS rebinding) cannot read it.
    if not is_loopback(request.remote_addr):
        abort(404)
    if request.host.lower() not in allowed_hosts(request.environ.get("SERVER_PORT", "")):
        abort(403, "The mailbox answers only at a loopback address, e.g. http://127.0.0.1:<port>/mailbox.")


@bp.after_request
def _private(response):
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Content-Security-Policy"] = ("default-src 'none'; style-src 'unsafe-inline'; "
                                                   "frame-ancestors 'none'")
    return response


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
