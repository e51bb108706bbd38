"""The call's name in the applicant's language: on the form, in the programme API, through the migration."""
from __future__ import annotations

import html

import sqlalchemy as sa
from alembic import command

from shared.db import utcnow
from shared.migrate import alembic_config, upgrade
from tests.conftest import fresh_database

FRENCH = "Programme de stages de l'OTAN 2027"
ENGLISH = "NATO Internship Programme 2027"


def heading(client, lang: str) -> str:
    page = html.unescape(client.get(f"/apply?lang={lang}").get_data(as_text=True))
    return page.split("<h1>")[1].split("</h1>")[0]


def test_the_form_names_the_call_in_the_pages_language(client):
    assert heading(client, "fr") == f"Candidature — {FRENCH}"
    assert heading(client, "en") == f"Application — {ENGLISH}"


def test_a_call_with_no_name_in_a_language_shows_its_english_one(call):
    call.names = {"en": ENGLISH}
    assert call.name_in("fr") == ENGLISH


def test_the_programme_api_keeps_name_in_english_and_adds_every_language(client):
    body = client.get("/api/v1/programme").get_json()
    assert body["name"] == ENGLISH
    assert body["names"] == {"en": ENGLISH, "fr": FRENCH}


def test_the_migration_gives_existing_calls_their_english_name_and_goes_back():
    url = fresh_database("nip_test_intake_call_names")
    upgrade("intake", url, "0007")
    engine = sa.create_engine(url)
    json_columns = ("sessions", "departments", "documents", "languages", "rules")
    calls = sa.table("calls", sa.column("code"), sa.column("name"), sa.column("deadline"), sa.column("is_open"),
                     *(sa.column(name, sa.JSON()) for name in json_columns))
    with engine.begin() as connection:
        connection.execute(calls.insert().values(code="nip-2026", name="NATO Internship Programme 2026",
                                                 deadline=utcnow(), is_open=False, sessions=[], departments=[],
                                                 documents=[], languages=["en"], rules={}))
    try:
        upgrade("intake", url)
        with engine.connect() as connection:
            names = connection.execute(sa.text("SELECT names FROM calls WHERE code = 'nip-2026'")).scalar_one()
        assert names == {"en": "NATO Internship Programme 2026"}

        command.downgrade(alembic_config("intake", url), "0007")
        assert "names" not in {c["name"] for c in sa.inspect(engine).get_columns("calls")}
    finally:
        engine.dispose()
