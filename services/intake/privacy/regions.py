"""A nationality's region: all a tombstone keeps of it (ISO 3166-1 alpha-2 → a broad region)."""
from __future__ import annotations

EUROPE = frozenset(
    "AD AL AM AT AZ BA BE BG BY CH CY CZ DE DK EE ES FI FR GB GE GR HR HU IE IS IT LI LT LU LV MC MD ME MK MT "
    "NL NO PL PT RO RS RU SE SI SK SM TR UA VA XK".split())
NORTH_AMERICA = frozenset({"CA", "US"})


def region_of(nationality: str | None) -> str | None:
    """`europe`, `north_america` or `other`; None when unknown."""
    if not nationality:
        return None
    code = nationality.upper()
    if code in EUROPE:
        return "europe"
    if code in NORTH_AMERICA:
        return "north_america"
    return "other"
