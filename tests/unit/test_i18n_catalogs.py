"""Each service's catalogs hold every message its code and templates ask for, translated and compiled (review's
staff pages have English as their source language: review has no English catalog)."""
from __future__ import annotations

import gettext
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
# the keywords `make i18n` extracts with, service by service
KEYWORDS = {"intake": ("_l", "lazy_gettext"), "review": ("_l", "lazy_gettext", "N_")}
CATALOGS = [("intake", "en"), ("intake", "fr"), ("review", "fr")]


def _catalog(path: Path):
    with path.open("rb") as f:
        return read_po(f)


def _messages(service: str, lang: str) -> Path:
    return ROOT / "services" / service / "translations" / lang / "LC_MESSAGES"


@pytest.fixture(scope="module")
def extracted(tmp_path_factory):
    """Each service's messages as `make i18n` extracts them today (same command and keywords as the Makefile)."""
    found = {}
    for service, keywords in KEYWORDS.items():
        pot = tmp_path_factory.mktemp("i18n") / "messages.pot"
        subprocess.run([str(Path(sys.executable).with_name("pybabel")), "-q", "extract",
                        "-F", f"services/{service}/babel.cfg", *(a for k in keywords for a in ("-k", k)),
                        "--no-location", "-o", str(pot), f"services/{service}"], cwd=ROOT, check=True)
        found[service] = {m.id for m in _catalog(pot) if m.id}
    return found


@pytest.mark.parametrize(("service", "lang"), CATALOGS)
def test_every_message_in_the_code_is_in_the_catalog(extracted, service, lang):
    catalog = _catalog(_messages(service, lang) / "messages.po")
    missing = sorted(str(i) for i in extracted[service] - {m.id for m in catalog if m.id})
    assert not missing, f"run `make i18n`, then translate: {missing}"


@pytest.mark.parametrize("service", ["intake", "review"])
def test_every_french_message_is_translated_and_not_fuzzy(service):
    catalog = _catalog(_messages(service, "fr") / "messages.po")
    # every plural form too: French has three in CLDR (one, many, other)
    untranslated = [m.id for m in catalog if m.id and (m.fuzzy or not (all(m.string) if m.pluralizable
                                                                        else m.string))]
    assert not untranslated, f"translate in services/{service}/translations/fr/LC_MESSAGES/messages.po: {untranslated}"
    # a translation that drops or renames a %(placeholder)s would fail when the page is drawn
    assert not [(m.id, errors) for m, errors in catalog.check()]


def _forms(message) -> tuple[str, ...]:
    """A message's translation as (one, many); an empty string where it is not translated."""
    return (message.string[0], message.string[-1]) if message.pluralizable else (message.string,)


def _compiled(compiled: gettext.GNUTranslations, message) -> tuple[str, ...]:
    if not message.pluralizable:
        return (compiled.gettext(message.id),)
    singular, plural = message.id
    # one and many: the first and last plural forms of both English and French
    return compiled.ngettext(singular, plural, 1), compiled.ngettext(singular, plural, 2)


@pytest.mark.parametrize(("service", "lang"), CATALOGS)
def test_compiled_catalog_matches_its_source(service, lang):
    source = _catalog(_messages(service, lang) / "messages.po")
    with (_messages(service, lang) / "messages.mo").open("rb") as f:
        compiled = gettext.GNUTranslations(f)
    # an untranslated English message is shown as its id: nothing to compare
    stale = [m.id for m in source if m.id and all(_forms(m)) and _compiled(compiled, m) != _forms(m)]
    assert not stale, f"run `make i18n` to compile: {stale}"
