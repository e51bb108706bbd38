"""Data protection in review: admin erasure and export (through intake's privacy API), the anonymised read
model after `application.erased`, statistics for the programme office, and the access log intake exports."""
from __future__ import annotations

from flask import Flask


def init_app(app: Flask, csrf) -> None:
    from services.review.privacy.views import api, bp, internal

    app.register_blueprint(bp)
    for blueprint in (api, internal):
        csrf.exempt(blueprint)  # bearer tokens and keys only, never cookies
        app.register_blueprint(blueprint)
