"""The privacy notice: versioned files, one per language (`notices/<version>/<lang>.html`), never edited once
published; a change is a new version, so what earlier applicants agreed to stays readable and verifiable."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

NOTICES = Path(__file__).resolve().parent / "notices"
LANGUAGES = ("en", "fr")


@dataclass(frozen=True)
class Notice:
    version: str
    language: str
    html: str
    sha256: str


def versions() -> list[str]:
    """Every published version, oldest first."""
    return sorted((p.name for p in NOTICES.iterdir() if p.is_dir() and p.name.isdigit()), key=int)


def current_version() -> str:
    return versions()[-1]


@lru_cache(maxsize=32)
def notice(version: str, language: str) -> Notice | None:
    """One version of the notice in one language, with the sha256 of its exact bytes; None when there is none."""
    if version not in versions() or language not in LANGUAGES:
        return None
    data = (NOTICES / version / f"{language}.html").read_bytes()
    return Notice(version, language, data.decode("utf-8"), hashlib.sha256(data).hexdigest())


def current_notice(language: str) -> Notice:
    """The notice an applicant agrees to today, in their language (English when it is not one we publish)."""
    found = notice(current_version(), language if language in LANGUAGES else LANGUAGES[0])
    assert found is not None, "every published version has every language"
    return found
