"""Access-link emails per recipient: however many clients ask, one address receives only so many."""
from __future__ import annotations

import dataclasses
import logging

import pytest

from services.intake import create_app
from services.intake.db import db
from services.intake.programme.service import seed_call
from tests.conftest import rolled_back
from tests.integration.intake.test_access_links import ANSWER, access_events, csrf_token, submit
from tests.integration.intake.test_drafts import save_draft

VICTIM, OTHER = "ana.popescu@example.org", "ion.ionescu@example.org"


@pytest.fixture
def recipient_limit():
    return "3 per hour;10 per day"


@pytest.fixture
def limited(settings, intake_database_url, recipient_limit):
    """An intake that limits every client address (loopback too) and every recipient."""
    app = create_app(dataclasses.replace(settings, intake_database_url=intake_database_url, rate_limit_exempt="",
                                         access_link_recipient_limit=recipient_limit))
    app.config["TESTING"] = True
    with rolled_back(db), app.app_context():
        seed_call(session=db.session, deadline=settings.call_deadline)
        db.session.commit()
        yield app


def client_number(app, n: int, client=None):
    """A client from an address of its own: the per-client limits never stop these attackers."""
    client = client or app.test_client()
    client.environ_base["REMOTE_ADDR"] = f"203.0.113.{n}"
    return client


def ask_by_api(app, n: int, email: str) -> tuple[int, bytes]:
    # closing the response runs the work queued after it, as the server does once the answer is sent
    with client_number(app, n).post("/api/v1/access-links", json={"email": email}) as response:
        return response.status_code, response.get_data()


def ask_by_page(browser, n: int, email: str) -> tuple[int, bytes]:
    """The form from one browser session at ever new addresses (the test's app context keeps one CSRF token)."""
    client = client_number(browser.application, n, browser)
    form = {"email": email, "csrf_token": csrf_token(client, "/find")}
    with client.post("/find?lang=en", data=form) as response:
        return response.status_code, response.get_data()


def emailed_to(email: str) -> list[dict]:
    return [event for event in access_events(db.session) if event["email"].lower() == email]


@pytest.mark.parametrize("recipient_limit, most", [("3 per hour;10 per day", 3), ("10 per hour;2 per day", 2)])
def test_one_address_receives_at_most_its_limit_whoever_asks(limited, caplog, most):
    submit(client_number(limited, 200), email=VICTIM)
    caplog.set_level(logging.WARNING, logger="services.intake.limits")
    spellings = (VICTIM, VICTIM.upper(), "Ana.Popescu@example.org")
    answers = [ask_by_api(limited, n, spellings[n % 3]) for n in range(8)]

    assert set(answers) == {(202, answers[0][1])} and limited.json.loads(answers[0][1]) == ANSWER
    assert len(emailed_to(VICTIM)) == most
    refused = [r for r in caplog.records if r.name == "services.intake.limits" and r.levelno == logging.WARNING]
    assert len(refused) == 8 - most
    # logged as a keyed hash, the same one for every spelling, never the address itself
    assert len({r.recipient for r in refused}) == 1
    assert "popescu" not in str([r.__dict__ for r in refused]).lower()


def test_another_address_is_unaffected(limited):
    submit(client_number(limited, 200), email=VICTIM)
    submit(client_number(limited, 201), email=OTHER, given_name="Ion", family_name="Ionescu")
    for n in range(6):
        ask_by_api(limited, n, VICTIM)
    assert ask_by_api(limited, 100, OTHER) == ask_by_api(limited, 101, VICTIM)
    assert len(emailed_to(VICTIM)) == 3 and len(emailed_to(OTHER)) == 1


def test_the_page_and_the_api_spend_one_budget_and_the_page_answers_alike(limited):
    submit(client_number(limited, 200), email=VICTIM)
    browser = limited.test_client()
    pages = [ask_by_page(browser, n, VICTIM) for n in range(3)]
    assert ask_by_api(limited, 3, VICTIM)[0] == 202
    pages += [ask_by_page(browser, n, VICTIM) for n in range(4, 7)]

    assert len(emailed_to(VICTIM)) == 3
    assert {status for status, _ in pages} == {200}
    assert len({body for _, body in pages}) == 1 and b"Check your email" in pages[0][1]


def test_drafts_are_saved_but_their_links_count_towards_the_address(limited):
    answers, browser = [], limited.test_client()
    for n in range(5):
        response = save_draft(client_number(limited, n, browser), email=VICTIM)
        answers.append((response.status_code, response.get_data(as_text=True)))
    assert [status for status, _ in answers] == [200] * 5 and all("Draft saved" in page for _, page in answers)
    assert [event["purpose"] for event in emailed_to(VICTIM)] == ["draft"] * 3
    # the budget is spent for status links too
    submit(client_number(limited, 200), email=VICTIM)
    ask_by_api(limited, 10, VICTIM)
    assert len(emailed_to(VICTIM)) == 3


def test_replicas_count_one_address_together_in_redis(settings, intake_database_url, redis_server):
    apps = [create_app(dataclasses.replace(settings, intake_database_url=intake_database_url,
                                           broker_url=redis_server.url)) for _ in range(2)]
    with rolled_back(db), apps[0].app_context():
        seed_call(session=db.session, deadline=settings.call_deadline)
        db.session.commit()
        submit(apps[0].test_client(), email=VICTIM)
        answers = {ask_by_api(apps[n % 2], n, VICTIM) for n in range(6)}
        assert len(answers) == 1 and next(iter(answers))[0] == 202
        assert len(emailed_to(VICTIM)) == 3
