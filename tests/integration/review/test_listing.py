"""The applications list: filters, pages, and each reviewer seeing only their departments."""
from __future__ import annotations

from datetime import timedelta

from .conftest import T0, bearer, login, submitted, token_for


def listing(client, headers, **params):
    response = client.get("/api/v1/applications", headers=headers, query_string=params)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_filters_by_status_department_and_text(app, api, deliver, under_review):
    under_review("NIP27-0101", departments=["it"], given_name="Jan", family_name="Novak")
    under_review("NIP27-0102", departments=["finance", "it"], given_name="Marie", family_name="Dubois",
                 at=T0 + timedelta(hours=1))
    deliver(submitted("NIP27-0103", departments=["hr"], given_name="Lars", family_name="Olsen",
                      at=T0 + timedelta(hours=2)))
    client = app.test_client()
    everything = listing(client, api)
    assert [i["reference"] for i in everything["items"]] == ["NIP27-0103", "NIP27-0102", "NIP27-0101"]
    assert everything["total"] == 3 and everything["page"] == 1 and everything["per_page"] == 50
    assert [i["reference"] for i in listing(client, api, status="under_review")["items"]] == \
        ["NIP27-0102", "NIP27-0101"]
    assert [i["reference"] for i in listing(client, api, department="it")["items"]] == \
        ["NIP27-0102", "NIP27-0101"]
    assert [i["reference"] for i in listing(client, api, q="dubois")["items"]] == ["NIP27-0102"]
    assert [i["reference"] for i in listing(client, api, q="nip27-0103")["items"]] == ["NIP27-0103"]
    assert listing(client, api, q="100%")["total"] == 0


def test_pages_hold_fifty_newest_first(app, api, deliver):
    deliver(*[submitted(f"NIP27-{n:04d}", at=T0 + timedelta(minutes=n)) for n in range(1, 56)])
    client = app.test_client()
    first, second = listing(client, api, page=1), listing(client, api, page=2)
    assert len(first["items"]) == 50 and len(second["items"]) == 5
    assert first["items"][0]["reference"] == "NIP27-0055" and second["items"][-1]["reference"] == "NIP27-0001"
    assert first["total"] == second["total"] == 55


def test_invalid_filter_is_422(app, api):
    response = app.test_client().get("/api/v1/applications?status=lost&page=0", headers=api)
    assert response.status_code == 422
    assert set(response.get_json()["error"]["fields"]) == {"status", "page"}


def test_reviewer_sees_only_their_departments(app, admin, make_user, under_review):
    make_user("it-reviewer@example.org", departments=["it"])
    under_review("NIP27-0201", departments=["it", "hr"])
    under_review("NIP27-0202", departments=["polsci"], given_name="Secret", family_name="Candidate")
    client = app.test_client()
    headers = bearer(token_for(client, "it-reviewer@example.org"))
    assert [i["reference"] for i in listing(client, headers)["items"]] == ["NIP27-0201"]
    assert listing(client, headers, department="polsci")["total"] == 0
    hidden = client.get("/api/v1/applications/NIP27-0202", headers=headers)
    assert hidden.status_code == 404
    assert "Secret" not in hidden.get_data(as_text=True)
    assert client.get("/api/v1/applications/NIP27-0201", headers=headers).status_code == 200

    login(client, "it-reviewer@example.org")
    page = client.get("/applications").get_data(as_text=True)
    assert "NIP27-0201" in page and "NIP27-0202" not in page
    assert client.get("/applications/NIP27-0202").status_code == 404
    assert "Secret" not in client.get("/applications/NIP27-0202").get_data(as_text=True)


def test_list_page_filters_and_links_to_the_detail(app, admin, under_review):
    under_review("NIP27-0301", departments=["comms"], given_name="Sofia", family_name="Rossi")
    client = app.test_client()
    login(client, admin)
    page = client.get("/applications?q=rossi&status=&department=comms").get_data(as_text=True)
    assert 'href="/applications/NIP27-0301"' in page and "Sofia Rossi" in page
    detail = client.get("/applications/NIP27-0301").get_data(as_text=True)
    assert "Communications and public relations" in detail and "Record the decision" in detail
