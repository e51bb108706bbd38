"""The applicants' catalogs hold every message the code and templates ask for, translated and compiled."""
from __future__ import annotations

import gettext
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[3]
TRANSLATIONS = ROOT / "services" / "intake" / "translations"
LANGUAGES = ("en", "fr")


def _catalog(path: Path):
    with path.open("rb") as f:
        return read_po(f)


@pytest.fixture(scope="module")
def extracted(tmp_path_factory):
    """The messages as `make i18n` extracts them today (same command and keywords as the Makefile)."""
    pot = tmp_path_factory.mktemp("i18n") / "messages.pot"
    subprocess.run([str(Path(sys.executable).with_name("pybabel")), "-q", "extract",
                    "-F", "services/intake/babel.cfg", "-k", "_l", "-k", "lazy_gettext", "--no-location",
                    "-o", str(pot), "services/intake"], cwd=ROOT, check=True)
    return {m.id for m in _catalog(pot) if m.id}


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_message_in_the_code_is_in_the_catalog(extracted, lang):
    catalog = _catalog(TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po")
    missing = sorted(str(i) for i in extracted - {m.id for m in catalog if m.id})
    assert not missing, f"run `make i18n`, then translate: {missing}"


def test_every_french_message_is_translated_and_not_fuzzy():
    catalog = _catalog(TRANSLATIONS / "fr" / "LC_MESSAGES" / "messages.po")
    untranslated = [m.id for m in catalog if m.id and (not m.string or m.fuzzy)]
    assert not untranslated, f"translate in fr/LC_MESSAGES/messages.po: {untranslated}"
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


@pytest.mark.parametrize("lang", LANGUAGES)
def test_compiled_catalog_matches_its_source(lang):
    source = _catalog(TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po")
    with (TRANSLATIONS / lang / "LC_MESSAGES" / "messages.mo").open("rb") as f:
        compiled = gettext.GNUTranslations(f)
    stale = [m.id for m in source if m.id and all(_forms(m)) and _compiled(compiled, m) != _forms(m)]
    assert not stale, f"run `make i18n` to compile: {stale}"
