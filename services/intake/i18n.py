"""The applicants' language: Flask-Babel with gettext catalogs in services/intake/translations.

Adding a string: write `_("...")` in Python (`from flask_babel import gettext as _`, or `lazy_gettext` at import
time) or `{{ _("...") }}` / `{% trans %}...{% endtrans %}` in a template, then run `make i18n` (extract, update the
en and fr catalogs, compile) and fill the new `msgstr` in translations/fr/LC_MESSAGES/messages.po; run `make i18n`
again to compile. tests/unit/test_i18n_catalogs.py fails while a message is missing or untranslated.
"""
from __future__ import annotations

from typing import Any

from babel import Locale
from flask import Flask, Response, request, url_for
from flask_babel import Babel, get_locale, refresh
from werkzeug.exceptions import HTTPException

LANGUAGES = ("en", "fr")
LANG_COOKIE = "lang"
LANG_COOKIE_AGE = 365 * 24 * 3600
FORM_TYPES = frozenset({"multipart/form-data", "application/x-www-form-urlencoded"})

babel = Babel()


def _form_language() -> str | None:
    if request.mimetype not in FORM_TYPES:
        return None
    try:
        return request.form.get("lang")
    except HTTPException:  # a body too large or malformed: its error page speaks the browser's language
        return None


def _explicit_language() -> str | None:
    """The language the page was asked for: `?lang=`, or the form's hidden `lang` field."""
    lang = request.args.get("lang") or _form_language()
    return lang if lang in LANGUAGES else None


def select_locale() -> str:
    """The URL's `lang`, then the language kept from an earlier page, then the browser's `Accept-Language`."""
    chosen = _explicit_language() or request.cookies.get(LANG_COOKIE)
    if chosen in LANGUAGES:
        return chosen
    return request.accept_languages.best_match(LANGUAGES) or LANGUAGES[0]


def current_language() -> str:
    """The page's language code, `en` or `fr`."""
    return get_locale().language if get_locale() is not None else LANGUAGES[0]


def other_language() -> str:
    return next(code for code in LANGUAGES if code != current_language())


def other_language_url() -> str:
    """This page in the other language, keeping its query (a status page's key)."""
    args: dict[str, Any] = {**request.args, **(request.view_args or {}), "lang": other_language()}
    return url_for(request.endpoint or "pages.apply", **args)


def language_name(code: str, in_language: str | None = None) -> str:
    """A language's name, in itself by default ("English", "Français", as a language switch shows it)."""
    return (Locale(code).get_display_name(in_language or code) or code).capitalize()


def _keep_language(response: Response) -> Response:
    # a language picked in the URL holds for the next pages, whose links do not all carry it
    lang = request.args.get("lang")
    if lang in LANGUAGES and request.cookies.get(LANG_COOKIE) != lang:
        response.set_cookie(LANG_COOKIE, lang, max_age=LANG_COOKIE_AGE, httponly=True, samesite="Lax",
                            secure=request.is_secure)
    return response


def init_app(app: Flask) -> None:
    """Flask-Babel on intake's web app; templates get `lang`, `other_language_url()` and `language_name()`."""
    app.config.setdefault("BABEL_DEFAULT_LOCALE", LANGUAGES[0])
    # the programme's deadlines and histories are told in its own time zone
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", "Europe/Brussels")
    babel.init_app(app, locale_selector=select_locale)
    # Flask-Babel caches the language on `g`, which requests share when an app context was pushed before them
    app.before_request(refresh)
    app.after_request(_keep_language)
    app.add_template_global(other_language_url)
    app.add_template_global(other_language)
    app.add_template_global(language_name)
    app.context_processor(lambda: {"lang": current_language()})
