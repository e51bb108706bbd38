"""The staff's French catalog holds every message the review service's code and templates ask for, translated
and compiled (English is the source language: it has no catalog)."""
from __future__ import annotations

import gettext
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[3]
TRANSLATIONS = ROOT / "services" / "review" / "translations"
FRENCH = TRANSLATIONS / "fr" / "LC_MESSAGES"


def _catalog(path: Path):
    with path.open("rb") as f:
        return read_po(f)


@pytest.fixture(scope="module")
def extracted(tmp_path_factory):
    """The messages as `make i18n` extracts them today (same command and keywords as the Makefile)."""
    pot = tmp_path_factory.mktemp("i18n") / "messages.pot"
    subprocess.run([str(Path(sys.executable).with_name("pybabel")), "-q", "extract",
                    "-F", "services/review/babel.cfg", "-k", "_l", "-k", "lazy_gettext", "-k", "N_",
                    "--no-location", "-o", str(pot), "services/review"], cwd=ROOT, check=True)
    return {m.id for m in _catalog(pot) if m.id}


def test_every_message_in_the_code_is_in_the_catalog(extracted):
    catalog = _catalog(FRENCH / "messages.po")
    missing = sorted(str(i) for i in extracted - {m.id for m in catalog if m.id})
    assert not missing, f"run `make i18n`, then translate: {missing}"


def test_every_french_message_is_translated_and_not_fuzzy():
    catalog = _catalog(FRENCH / "messages.po")
    # every plural form too: French has three in CLDR (one, many, other)
    untranslated = [m.id for m in catalog if m.id and (m.fuzzy or not (all(m.string) if m.pluralizable
                                                                        else m.string))]
    assert not untranslated, f"translate in fr/LC_MESSAGES/messages.po: {untranslated}"
    # a translation that drops or renames a %(placeholder)s would fail when the page is drawn
    assert not [(m.id, errors) for m, errors in catalog.check()]


def test_compiled_catalog_matches_its_source():
    source = _catalog(FRENCH / "messages.po")
    with (FRENCH / "messages.mo").open("rb") as f:
        compiled = gettext.GNUTranslations(f)
    stale = []
    for m in source:
        if not m.id:
            continue
        if m.pluralizable:
            singular, plural = m.id
            shown = (compiled.ngettext(singular, plural, 1), compiled.ngettext(singular, plural, 2))
            expected = (m.string[0], m.string[-1])
        else:
            shown, expected = compiled.gettext(m.id), m.string
        if shown != expected:
            stale.append(m.id)
    assert not stale, f"run `make i18n` to compile: {stale}"
