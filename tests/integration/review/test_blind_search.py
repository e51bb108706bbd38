"""Under the blind round a reviewer finds an application by its reference only: a search by name in the
list, the API or the CSV would tell them whose application it is."""
from __future__ import annotations

from . import test_reviews as scoring
from .conftest import signed_in

# the scoring tests' fixtures, used here as they are
team, headers, cheap_password_hashing = scoring.team, scoring.headers, scoring.cheap_password_hashing
_blind_round = scoring._blind_round


def _found(app, headers, email: str, q: str) -> dict[str, bool]:
    """Whether the API list, the list page and the CSV find NIP27-0613 for `email` searching `q`."""
    client, browser = app.test_client(), signed_in(app, email)
    api = client.get("/api/v1/applications", query_string={"q": q}, headers=headers(email)).get_json()["items"]
    page = browser.get("/applications", query_string={"q": q}).get_data(as_text=True)
    csv = browser.get("/applications.csv", query_string={"q": q}).get_data(as_text=True)
    return {"api": [i["reference"] for i in api] == ["NIP27-0613"], "page": "NIP27-0613" in page,
            "csv": "NIP27-0613" in csv}


def test_a_blind_reviewer_finds_by_reference_not_by_name(app, admin, team, headers, under_review):
    under_review("NIP27-0613", given_name="Zora", family_name="Quintero")
    everywhere, nowhere = dict(api=True, page=True, csv=True), dict(api=False, page=False, csv=False)
    assert _found(app, headers, "r1@example.org", "quintero") == everywhere

    _blind_round(app, admin)
    assert _found(app, headers, "r1@example.org", "quintero") == nowhere
    assert _found(app, headers, "r1@example.org", "Zora Q") == nowhere
    assert _found(app, headers, "r1@example.org", "27-0613") == everywhere
    # the coordinator is not blind: their search by name still works
    assert _found(app, headers, "coord@example.org", "quintero") == everywhere
