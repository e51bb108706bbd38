"""A NUL character anywhere in a URL or a JSON body is a 400 in every service, never a database error (500)."""
from __future__ import annotations

import pytest

from services.review.accounts.service import create_user
from services.review.db import db as review_db

PASSWORD = "a long enough password"
ADMIN = "nul.admin@example.org"


@pytest.fixture
def admin_headers(review):
    with review.app_context():
        create_user(session=review_db.session, email=ADMIN, password=PASSWORD, role="admin", departments=[])
        review_db.session.commit()
    response = review.test_client().post("/api/v1/auth/token", json={"email": ADMIN, "password": PASSWORD})
    return {"Authorization": f"Bearer {response.get_json()['token']}"}


def assert_refused(response, field):
    assert response.status_code == 400, response.get_data(as_text=True)
    error = response.get_json()["error"]
    assert error["code"] == "invalid_characters" and field in error["fields"]


@pytest.mark.parametrize("url, field", [
    ("/api/v1/applications?q=%00", "q"), ("/api/v1/applications?q=name%00", "q"),
    ("/api/v1/applications/NIP27-%00", "reference"),
])
def test_review_refuses_nul_in_urls(review, admin_headers, url, field):
    assert_refused(review.test_client().get(url, headers=admin_headers), field)


def test_review_search_with_ordinary_odd_text_still_works(review, admin_headers):
    response = review.test_client().get("/api/v1/applications?q=%C3%A9%25_%5C", headers=admin_headers)

    assert response.status_code == 200 and response.get_json()["items"] == []


@pytest.mark.parametrize("body, field", [
    ({"email": "nul\x00@example.org", "password": "x" * 20, "role": "reviewer", "departments": ["it"]}, "email"),
    ({"email": "ok@example.org", "password": "pass\x00word long enough", "role": "reviewer",
      "departments": ["it"]}, "password"),
    ({"email": "ok@example.org", "password": "x" * 20, "role": "reviewer", "departments": ["i\x00t"]},
     "departments"),
])
def test_review_refuses_nul_in_json_bodies_and_stores_nothing(review, admin_headers, body, field):
    client = review.test_client()

    assert_refused(client.post("/api/v1/users", headers=admin_headers, json=body), field)
    assert client.post("/api/v1/auth/token", json={"email": "ok@example.org", "password": "x" * 20}
                       ).status_code == 401


def test_login_with_nul_is_refused_before_any_lookup(review):
    assert_refused(review.test_client().post("/api/v1/auth/token", json={"email": "a\x00b", "password": "c"}),
                   "email")
