"""Staff pages and labels in the user's language: Flask-Babel with catalogs in services/review/translations.

Adding a string: `_("...")` in Python (`lazy_gettext`/`_l` at import time) or `{{ _("...") }}` in a template, then
`pybabel extract -F services/review/babel.cfg -k lazy_gettext -k N_ -k _l --no-location --sort-output
-o services/review/translations/messages.pot services/review`, `pybabel update --no-fuzzy-matching -i
services/review/translations/messages.pot -d services/review/translations`, fill the fr `msgstr`, and
`pybabel compile -d services/review/translations`. Country names come from pycountry's ISO 3166 catalogs.
"""
from __future__ import annotations

import gettext
from functools import cache

import pycountry
from flask import Flask, g
from flask_babel import Babel, force_locale, get_locale, gettext as _, lazy_gettext
from flask_login import current_user
from sqlalchemy import select

from services.review.accounts.models import User
from services.review.db import db
from services.review.decisions.schemas import REASON_CODES
from services.review.departments import DEPARTMENTS

LANGUAGES = ("en", "fr")
babel = Babel()

STATUS_LABELS = {
    "submitted": lazy_gettext("Submitted"),
    "under_review": lazy_gettext("Under review"),
    "incomplete": lazy_gettext("Incomplete"),
    "ineligible": lazy_gettext("Ineligible"),
    "shortlisted": lazy_gettext("Shortlisted"),
    "reserve": lazy_gettext("Reserve"),
    "rejected": lazy_gettext("Rejected"),
    "withdrawn": lazy_gettext("Withdrawn"),
}
ROLE_LABELS = {"admin": lazy_gettext("admin"), "coordinator": lazy_gettext("coordinator"),
               "reviewer": lazy_gettext("reviewer")}
SESSION_LABELS = {"march": lazy_gettext("March session"), "september": lazy_gettext("September session")}


def select_locale() -> str:
    """The signed-in user's language (page session or API token), else English."""
    if current_user and current_user.is_authenticated:
        language = current_user.language
    elif g.get("staff") is not None:
        language = db.session.scalar(select(User.language).where(User.id == g.staff.user_id))
    else:
        language = None
    return language if language in LANGUAGES else LANGUAGES[0]


def current_language() -> str:
    locale = get_locale()
    return locale.language if locale is not None else LANGUAGES[0]


@cache
def _country_catalog(language: str) -> gettext.NullTranslations:
    return gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=[language], fallback=True)


@cache
def _country_name(code: str, language: str) -> str:
    country = pycountry.countries.get(alpha_2=code)
    if country is None:
        return code
    name = getattr(country, "common_name", None) or country.name
    return _country_catalog(language).gettext(name)


def country_label(code: str | None) -> str:
    """A country's name in the page's language ("Bulgarie" for BG in French)."""
    return _country_name(code.upper(), current_language()) if code else ""


@cache
def _labels(language: str) -> dict[tuple[str, str], str]:
    """Every status, session and department label in `language`, translated once per process."""
    with force_locale(language):
        return {**{("status", k): str(v) for k, v in STATUS_LABELS.items()},
                **{("session", k): str(v) for k, v in SESSION_LABELS.items()},
                # the department names are msgids of the review catalog (marked in departments.py)
                **{("department", k): _(v) for k, v in DEPARTMENTS.items()}}


def status_label(status: str | None) -> str:
    return _labels(current_language()).get(("status", status or ""), status or _("Unknown"))


def session_label(session: str | None) -> str:
    return _labels(current_language()).get(("session", session or ""), session or "")


def department_label(code: str) -> str:
    return _labels(current_language()).get(("department", code), code)


def role_label(role: str) -> str:
    return str(ROLE_LABELS.get(role, role))


def reason_label(code: str | None) -> str:
    """A decision reason's label in the page's language; an office's own code as it is, made readable."""
    return str(REASON_CODES[code]) if code in REASON_CODES else (code or "").replace("_", " ")


def init_app(app: Flask) -> None:
    """Flask-Babel on review's app; templates get the label functions."""
    app.config.setdefault("BABEL_DEFAULT_LOCALE", LANGUAGES[0])
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", "Europe/Brussels")
    babel.init_app(app, locale_selector=select_locale)
    for function in (country_label, status_label, session_label, department_label, reason_label,
                     role_label):
        app.add_template_global(function)
    app.context_processor(lambda: {"lang": current_language()})
