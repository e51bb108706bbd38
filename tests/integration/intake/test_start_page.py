"""Before you start (issue 19, item 4): the open call's rules in both languages before the form, and the form's
inline checks worded in the page's language."""
from __future__ import annotations

import html
import json
import re

import pytest
from sqlalchemy import select

from services.intake.programme.models import Call
from services.intake.programme.service import forget_open_call


def page(client, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200
    return html.unescape(response.get_data(as_text=True))


def test_the_home_page_leads_to_before_you_start(client):
    response = client.get("/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/start")


@pytest.mark.parametrize("lang, expected", [
    ("en", ["Before you start", "at least 21 years old on January 31, 2027", "January 31, 2027, 11:59\u202fPM",
            "at least 2 years of university", "less than 12 months before the deadline",
            "English or French at level B2 or higher", "Curriculum vitae: PDF or DOCX, up to 5 MB and 10 pages",
            "Language certificate (optional): PDF, up to 5 MB and 10 pages", "50 to 700 words",
            "March session", '<a class="button" href="/apply?lang=en">Start now</a>']),
    ("fr", ["Avant de commencer", "au moins 21 ans le 31 janvier 2027", "au moins 2 années d’université",
            "moins de 12 mois avant la date limite", "anglais ou français au niveau B2 ou plus",
            "Curriculum vitæ : PDF ou DOCX, jusqu’à 5 Mo et 10 pages", "de 50 à 700 mots", "Session de mars",
            '<a class="button" href="/apply?lang=fr">Commencer</a>']),
])
def test_before_you_start_tells_the_calls_rules_in_the_pages_language(client, lang, expected):
    shown = page(client, f"/start?lang={lang}")
    for words in expected:
        assert words in shown, words


@pytest.mark.parametrize("lang, member, outsider", [("en", "Belgium", "Switzerland"),
                                                    ("fr", "Allemagne", "Suisse")])
def test_before_you_start_names_the_eligible_nationalities(client, lang, member, outsider):
    countries = page(client, f"/start?lang={lang}").split('class="countries"')[1].split("</ul>")[0]
    names = re.findall(r"<li>([^<]+)</li>", countries)
    assert len(names) == 32 and member in names and outsider not in names


def test_before_you_start_follows_the_calls_settings(client, session):
    call = session.scalars(select(Call)).one()
    call.rules = {**call.rules, "min_age": 18, "min_language_level": "C1", "motivation_words": [100, 400]}
    session.commit()
    forget_open_call()
    shown = page(client, "/start?lang=en")
    assert "at least 18 years old" in shown and "level C1" in shown and "100 to 400 words" in shown


def test_the_form_links_back_to_before_you_start(client):
    assert '<a href="/start?lang=fr">Qui peut postuler et ce qu’il vous faut</a>' in page(client, "/apply?lang=fr")
    assert 'class="brand" href="/start?lang=en"' in page(client, "/apply?lang=en")


def test_the_forms_inline_checks_are_worded_in_the_pages_language(client):
    french = page(client, "/apply?lang=fr")
    assert '<script src="/static/apply.js" defer></script>' in french
    assert ('<p class="warning" id="date_of_birth-warning" aria-live="polite" '
            'data-warning="Les candidats doivent avoir au moins 21 ans le 31 janvier 2027."></p>') in french
    eligible = json.loads(re.search(r"data-eligible='([^']+)'", french).group(1))
    assert "Allemagne" in eligible and "Suisse" not in eligible
    assert re.search(r'id="languages-warning" aria-live="polite" data-warning="[^"]*B2', french)
    assert 'data-one="{count} mot ; entre 50 et 700"' in french
    assert 'data-other="{count} mots ; entre 50 et 700"' in french
    form = re.search(r'<form [^>]*id="application"[^>]*>', french).group(0)
    assert 'data-deadline="2027-01-31"' in form and 'data-min-age="21"' in form and 'data-min-years="2"' in form


def test_the_year_of_study_is_asked_in_the_current_degree(client):
    english, french = page(client, "/apply?lang=en"), page(client, "/apply?lang=fr")
    assert "Year of study in your current degree" in english
    assert "a master's student in their second year enters 2" in english
    assert "Année d’études dans votre diplôme actuel" in french
