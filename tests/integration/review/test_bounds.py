"""An integer out of its bounds in a path, a query or a body is a 4xx JSON error, on PostgreSQL and SQLite."""
from __future__ import annotations

import dataclasses

import pytest

from services.review import create_app
from services.review.db import db
from shared.bounds import MAX_ID
from shared.migrate import upgrade
from tests.conftest import rolled_back
from tests.integration.review.conftest import bearer, token_for

HUGE = "3186097966013583720448"


@pytest.fixture(params=["postgresql", "sqlite"])
def any_database_app(request, review_settings, settings):
    if request.param == "sqlite":
        upgrade("review", settings.review_database_url)
        review_settings = dataclasses.replace(review_settings, review_database_url=settings.review_database_url)
    app = create_app(review_settings)
    app.config["TESTING"] = True
    with rolled_back(db):
        yield app


@pytest.fixture
def admin_headers(any_database_app):
    from services.review.accounts.service import create_user
    from tests.integration.review.conftest import ADMIN, PASSWORD

    with any_database_app.app_context():
        create_user(session=db.session, email=ADMIN, password=PASSWORD, role="admin", departments=[])
        db.session.commit()
    return bearer(token_for(any_database_app.test_client(), ADMIN))


@pytest.mark.parametrize("query", [f"reviewer={HUGE}", f"reviewer={MAX_ID + 1}", "reviewer=0", "page=100001",
                                   "per_page=201"])
def test_an_out_of_range_list_filter_is_a_422_naming_the_field(any_database_app, admin_headers, query):
    response = any_database_app.test_client().get(f"/api/v1/applications?{query}", headers=admin_headers)
    assert response.status_code == 422
    assert set(response.get_json()["error"]["fields"]) == {query.split("=")[0]}


@pytest.mark.parametrize("path", ["/api/v1/applications", "/api/v1/applications.csv", "/api/v1/decisions/releasable"])
def test_a_reviewer_id_beyond_any_user_filters_to_nothing(any_database_app, admin_headers, path):
    response = any_database_app.test_client().get(f"{path}?reviewer={MAX_ID}", headers=admin_headers)
    assert response.status_code == 200


@pytest.mark.parametrize("user_id", [HUGE, str(MAX_ID + 1), str(MAX_ID), "0"])
def test_a_user_id_out_of_range_or_unknown_is_a_404(any_database_app, admin_headers, user_id):
    client = any_database_app.test_client()
    for response in (client.patch(f"/api/v1/users/{user_id}", json={"active": True}, headers=admin_headers),
                     client.post(f"/api/v1/users/{user_id}/unlock", headers=admin_headers)):
        assert response.status_code == 404
        assert response.get_json()["error"]["code"] == "not_found"


def test_an_assignment_to_an_out_of_range_reviewer_is_a_422(any_database_app, admin_headers):
    response = any_database_app.test_client().post("/api/v1/applications/NIP-0001/assignments",
                                                   json={"reviewer_id": MAX_ID + 1}, headers=admin_headers)
    assert response.status_code == 422
    assert "reviewer_id" in response.get_json()["error"]["fields"]
