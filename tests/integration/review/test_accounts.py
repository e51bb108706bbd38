"""Accounts: the first admin, sign-in, staff tokens and the users API."""
from __future__ import annotations

import dataclasses

from sqlalchemy import func, select

from services.review import create_app
from services.review.accounts.models import User
from services.review.db import db
from tests.conftest import fresh_database, migrated_database

from .conftest import PASSWORD, bearer, csrf_token, login, token_for


def test_first_admin_is_created_at_start_up_once(settings):
    url = migrated_database("review", "_boot")
    boot = dataclasses.replace(settings, review_database_url=url, admin_email="Boss@Example.org",
                               admin_password="first admin password")
    app = create_app(boot)
    create_app(dataclasses.replace(boot, admin_email="other@example.org"))
    with app.app_context():
        users = db.session.scalars(select(User)).all()
    assert [(u.email, u.role) for u in users] == [("boss@example.org", "admin")]
    assert token_for(app.test_client(), "boss@example.org", "first admin password")


def test_start_up_without_tables_does_not_fail(settings):
    url = fresh_database("nip_test_review_empty")
    app = create_app(dataclasses.replace(settings, review_database_url=url, admin_email="a@example.org",
                                         admin_password="first admin password"))
    assert app.test_client().get("/healthz").status_code == 200


def test_token_for_good_credentials_opens_the_api(app, admin):
    client = app.test_client()
    token = token_for(client, "ADMIN@example.org ")
    response = client.get("/api/v1/applications", headers=bearer(token))
    assert response.status_code == 200
    assert response.get_json()["total"] == 0


def test_bad_password_and_unknown_email_get_the_same_401(app, admin):
    client = app.test_client()
    wrong = client.post("/api/v1/auth/token", json={"email": admin, "password": "not the password"})
    unknown = client.post("/api/v1/auth/token", json={"email": "nobody@example.org", "password": PASSWORD})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.get_json() == unknown.get_json()
    assert wrong.get_json()["error"]["code"] == "invalid_credentials"


def test_forged_token_is_refused(app):
    response = app.test_client().get("/api/v1/applications", headers=bearer("forged.token.value"))
    assert response.status_code == 401


def test_admin_creates_a_reviewer_who_can_then_sign_in(app, api):
    client = app.test_client()
    response = client.post("/api/v1/users", headers=api, json={
        "email": "rev@example.org", "password": "twelve chars!", "role": "reviewer",
        "departments": ["it", "hr"]})
    assert response.status_code == 201
    body = response.get_json()
    assert body["email"] == "rev@example.org" and body["departments"] == ["it", "hr"]
    assert not any("password" in key or "hash" in key for key in body)
    assert token_for(client, "rev@example.org", "twelve chars!")


def test_duplicate_email_is_409(app, api):
    client = app.test_client()
    user = {"email": "rev@example.org", "password": "twelve chars!", "role": "reviewer", "departments": []}
    assert client.post("/api/v1/users", headers=api, json=user).status_code == 201
    again = client.post("/api/v1/users", headers=api, json={**user, "email": "Rev@Example.org"})
    assert again.status_code == 409
    assert again.get_json()["error"]["code"] == "duplicate_email"


def test_invalid_user_is_422_and_nothing_is_created(app, api):
    client = app.test_client()
    response = client.post("/api/v1/users", headers=api, json={
        "email": "not-an-email", "password": "short", "role": "boss", "departments": ["astrology"]})
    assert response.status_code == 422
    assert set(response.get_json()["error"]["fields"]) == {"email", "password", "role", "departments"}
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(User)) == 1


def test_only_admins_create_users(app, admin, make_user):
    make_user("rev@example.org")
    client = app.test_client()
    user = {"email": "x@example.org", "password": "twelve chars!", "role": "admin", "departments": []}
    as_reviewer = client.post("/api/v1/users", headers=bearer(token_for(client, "rev@example.org")), json=user)
    anonymous = client.post("/api/v1/users", json=user)
    assert as_reviewer.status_code == 403
    assert anonymous.status_code == 401


def test_login_page_carries_a_csrf_token(app):
    html = app.test_client().get("/login").get_data(as_text=True)
    assert len(csrf_token(html)) > 20


def test_login_without_csrf_token_fails(app, admin):
    client = app.test_client()
    response = client.post("/login", data={"email": admin, "password": PASSWORD})
    assert response.status_code == 400
    assert client.get("/applications").status_code == 302


def test_login_with_bad_password_says_so_without_telling_which(app, admin):
    client = app.test_client()
    response = login(client, admin, "wrong password")
    assert "Email or password is incorrect." in response.get_data(as_text=True)
    assert client.get("/applications").status_code == 302


def test_login_then_logout(app, admin):
    client = app.test_client()
    response = login(client, admin)
    assert response.status_code == 302 and response.headers["Location"].endswith("/applications")
    page = client.get("/applications")
    assert page.status_code == 200 and admin in page.get_data(as_text=True)
    token = csrf_token(page.get_data(as_text=True))
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/applications").status_code == 302


def test_login_never_redirects_off_site(app, admin):
    client = app.test_client()
    token = csrf_token(client.get("/login").get_data(as_text=True))
    response = client.post("/login?next=//evil.example/", data={"email": admin, "password": PASSWORD,
                                                                 "csrf_token": token})
    assert response.headers["Location"].endswith("/applications")


def test_users_list_is_for_admins_and_never_shows_password_hashes(app, api, make_user):
    make_user("rev@example.org")
    client = app.test_client()
    listed = client.get("/api/v1/users", headers=api)
    assert listed.status_code == 200
    items = listed.get_json()["items"]
    assert [u["email"] for u in items] == ["admin@example.org", "rev@example.org"]
    assert not any("password" in key or "hash" in key for item in items for key in item)
    assert client.get("/api/v1/users", headers=bearer(token_for(client, "rev@example.org"))).status_code == 403
    assert client.get("/api/v1/users").status_code == 401
