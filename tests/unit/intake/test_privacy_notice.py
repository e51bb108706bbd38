"""The published privacy notices and what a tombstone keeps of a nationality."""
import hashlib

import pytest

from services.intake.privacy import notice as notices
from services.intake.privacy.regions import region_of


@pytest.mark.parametrize("version", notices.versions())
def test_every_published_version_exists_in_every_language_with_the_same_sections(version):
    texts = {lang: notices.notice(version, lang) for lang in notices.LANGUAGES}
    assert all(texts.values())
    assert len({t.html.count("<h2>") for t in texts.values()}) == 1
    for lang, text in texts.items():
        assert text.sha256 == hashlib.sha256((notices.NOTICES / version / f"{lang}.html").read_bytes()).hexdigest()


def test_an_unknown_language_gets_the_english_notice():
    assert notices.current_notice("de").language == "en"
    assert notices.notice(notices.current_version(), "de") is None


@pytest.mark.parametrize("code, region", [("RO", "europe"), ("tr", "europe"), ("US", "north_america"),
                                          ("JP", "other"), (None, None), ("", None)])
def test_a_tombstone_keeps_a_broad_region_only(code, region):
    assert region_of(code) == region
