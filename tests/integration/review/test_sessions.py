"""Browser sessions, access and refresh tokens, deactivation: each test is an attempt to keep access
that should have ended."""
from __future__ import annotations

import dataclasses
from datetime import timedelta

from sqlalchemy import select, update

from services.review import create_app
from services.review.accounts.models import RefreshToken, StaffSession, User
from services.review.db import db
from services.review.decisions.models import Decision
from shared.db import utcnow

from .conftest import ADMIN, bearer, csrf_token, login, page_csrf_token, signed_in, token_pair


def session_cookie(client) -> str:
    return client.get_cookie("session").value


def client_with_cookie(app, value: str):
    client = app.test_client()
    client.set_cookie("session", value)
    return client


def signed_in_page(client) -> int:
    """200 when the client's session opens a staff page, else the status (302 = back to sign-in)."""
    return client.get("/applications").status_code


def age_sessions(app, email: str, by: timedelta) -> None:
    with app.app_context():
        uid = db.session.scalar(select(User.id).where(User.email == email))
        for row in db.session.scalars(select(StaffSession).where(StaffSession.user_id == uid)):
            row.last_seen_at -= by
        db.session.commit()


def last_seen(app, email: str):
    with app.app_context():
        uid = db.session.scalar(select(User.id).where(User.email == email))
        return db.session.scalar(select(StaffSession.last_seen_at).where(StaffSession.user_id == uid))


def test_a_cookie_copied_before_sign_out_is_refused_after_it(app, admin):
    client = signed_in(app, admin)
    copied = session_cookie(client)
    assert signed_in_page(client_with_cookie(app, copied)) == 200

    assert client.post("/logout", data={"csrf_token": page_csrf_token(client)}).status_code == 302
    assert signed_in_page(client) == 302
    assert signed_in_page(client_with_cookie(app, copied)) == 302


def test_signing_in_again_does_not_revive_the_old_cookie(app, admin):
    first = signed_in(app, admin)
    copied = session_cookie(first)
    first.post("/logout", data={"csrf_token": page_csrf_token(first)})
    signed_in(app, admin)  # a new session elsewhere
    assert signed_in_page(client_with_cookie(app, copied)) == 302
    with app.app_context():  # the ended session's row is gone, only the live one is kept
        assert db.session.scalars(select(StaffSession.revoked_at)).all() == [None]


def test_signing_in_again_in_the_same_browser_ends_its_previous_session(app, admin):
    client = signed_in(app, admin)
    copied = session_cookie(client)
    login(client, admin)
    assert signed_in_page(client) == 200
    assert signed_in_page(client_with_cookie(app, copied)) == 302


def test_a_session_idle_past_a_working_day_is_refused(app, admin):
    client = signed_in(app, admin)
    age_sessions(app, admin, timedelta(hours=8, minutes=1))
    response = client.get("/applications")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    age_sessions(app, admin, -timedelta(hours=9))  # back within the limit: revoked stays revoked
    assert signed_in_page(client) == 302


def test_a_session_in_use_stays_alive_and_last_seen_is_written_at_most_once_a_minute(app, admin):
    client = signed_in(app, admin)
    age_sessions(app, admin, timedelta(hours=7, minutes=59))
    assert signed_in_page(client) == 200
    touched = last_seen(app, admin)
    assert utcnow() - touched < timedelta(minutes=1)
    assert signed_in_page(client) == 200
    assert last_seen(app, admin) == touched


def test_a_csrf_token_from_an_expired_session_is_refused(app, admin, under_review):
    under_review("NIP27-0701")
    client = signed_in(app, admin)
    old_token = page_csrf_token(client)
    age_sessions(app, admin, timedelta(hours=9))
    assert signed_in_page(client) == 302  # the session is over
    login(client, admin)  # the same browser signs in again
    response = client.post("/applications/NIP27-0701/decision",
                           data={"csrf_token": old_token, "decision": "rejected"})
    assert response.status_code == 400
    with app.app_context():
        assert db.session.scalar(select(Decision).where(Decision.reference == "NIP27-0701")) is None
    assert app.config["WTF_CSRF_TIME_LIMIT"] == 8 * 3600


def test_cookie_flags_over_http(app, admin):
    response = login(app.test_client(), admin)
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    assert not any("remember_token" in header for header in response.headers.getlist("Set-Cookie"))


def test_session_cookie_is_secure_when_review_is_served_over_https(review_settings):
    app = create_app(dataclasses.replace(review_settings, review_url="https://review.example.org"))
    response = app.test_client().get("/login", base_url="https://review.example.org")
    cookie = response.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_token_endpoint_returns_a_short_lived_access_token_and_a_refresh_token(app, admin):
    pair = token_pair(app.test_client(), admin)
    assert set(pair) >= {"token", "refresh_token", "expires_in"}
    assert 0 < pair["expires_in"] <= 3600
    assert app.test_client().get("/api/v1/applications", headers=bearer(pair["token"])).status_code == 200


def test_an_expired_access_token_is_refused(app, admin):
    app.config["STAFF_ACCESS_TOKEN_TTL"] = -60
    token = token_pair(app.test_client(), admin)["token"]
    assert app.test_client().get("/api/v1/applications", headers=bearer(token)).status_code == 401


def test_refresh_rotates_and_the_spent_token_no_longer_works(app, admin):
    client = app.test_client()
    first = token_pair(client, admin)
    second = client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert second.status_code == 200
    body = second.get_json()
    assert body["refresh_token"] != first["refresh_token"]
    assert client.get("/api/v1/applications", headers=bearer(body["token"])).status_code == 200
    third = client.post("/api/v1/auth/refresh", json={"refresh_token": body["refresh_token"]})
    assert third.status_code == 200


def test_reusing_a_rotated_refresh_token_revokes_the_whole_family(app, admin):
    client = app.test_client()
    stolen = token_pair(client, admin)["refresh_token"]
    owners_next = client.post("/api/v1/auth/refresh", json={"refresh_token": stolen}).get_json()["refresh_token"]

    replay = client.post("/api/v1/auth/refresh", json={"refresh_token": stolen})
    assert replay.status_code == 401 and replay.get_json()["error"]["code"] == "invalid_refresh_token"
    # the legitimate holder's newer token dies with the family too
    assert client.post("/api/v1/auth/refresh", json={"refresh_token": owners_next}).status_code == 401
    # another sign-in's family is unaffected
    other = token_pair(client, admin)["refresh_token"]
    assert client.post("/api/v1/auth/refresh", json={"refresh_token": other}).status_code == 200


def test_refresh_tokens_are_stored_hashed_and_expire(app, admin):
    client = app.test_client()
    refresh_token = token_pair(client, admin)["refresh_token"]
    with app.app_context():
        stored = db.session.scalars(select(RefreshToken.token_hash)).all()
        assert refresh_token not in stored and len(stored) == 1 and len(stored[0]) == 64
        db.session.execute(update(RefreshToken).values(expires_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
    assert client.post("/api/v1/auth/refresh", json={"refresh_token": refresh_token}).status_code == 401
    token_pair(client, admin)  # the next sign-in clears the expired one away
    with app.app_context():
        assert len(db.session.scalars(select(RefreshToken.token_hash)).all()) == 1


def test_made_up_or_malformed_refresh_tokens_are_refused(app, admin):
    client = app.test_client()
    assert client.post("/api/v1/auth/refresh", json={"refresh_token": "made-up"}).status_code == 401
    bad = client.post("/api/v1/auth/refresh", json={"refresh_token": 42})
    assert bad.status_code == 422 and "refresh_token" in bad.get_json()["error"]["fields"]
    assert client.post("/api/v1/auth/refresh", data="not json").status_code == 422


def test_deactivating_a_user_ends_session_access_token_and_refresh_token_at_once(app, api, make_user, user_id):
    make_user("rev@example.org")
    browser = signed_in(app, "rev@example.org")
    pair = token_pair(app.test_client(), "rev@example.org")
    assert signed_in_page(browser) == 200

    response = app.test_client().patch(f"/api/v1/users/{user_id('rev@example.org')}", headers=api,
                                       json={"active": False})
    assert response.status_code == 200 and response.get_json()["active"] is False

    assert signed_in_page(browser) == 302
    assert app.test_client().get("/api/v1/applications", headers=bearer(pair["token"])).status_code == 401
    refresh = app.test_client().post("/api/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert refresh.status_code == 401
    assert login(app.test_client(), "rev@example.org").status_code == 200  # the form again, not signed in
    with app.app_context():
        assert db.session.scalar(select(StaffSession.revoked_at).where(
            StaffSession.user_id == user_id("rev@example.org"))) is not None

    # reactivated, they sign in afresh; the old session and refresh token stay dead
    app.test_client().patch(f"/api/v1/users/{user_id('rev@example.org')}", headers=api, json={"active": True})
    assert signed_in_page(browser) == 302
    assert app.test_client().post("/api/v1/auth/refresh",
                                  json={"refresh_token": pair["refresh_token"]}).status_code == 401
    assert signed_in_page(signed_in(app, "rev@example.org")) == 200


def test_a_role_change_applies_to_the_next_request(app, api, make_user, user_id):
    make_user("rev@example.org")
    headers = bearer(token_pair(app.test_client(), "rev@example.org")["token"])
    client = app.test_client()
    assert client.get("/api/v1/users", headers=headers).status_code == 403
    response = client.patch(f"/api/v1/users/{user_id('rev@example.org')}", headers=api,
                            json={"role": "admin", "departments": []})
    assert response.status_code == 200 and response.get_json()["role"] == "admin"
    assert client.get("/api/v1/users", headers=headers).status_code == 200
    client.patch(f"/api/v1/users/{user_id('rev@example.org')}", headers=api, json={"role": "coordinator"})
    assert client.get("/api/v1/users", headers=headers).status_code == 403


def test_only_admins_change_users(app, admin, make_user, user_id):
    make_user("rev@example.org")
    make_user("coord@example.org", role="coordinator")
    client = app.test_client()
    target = user_id(ADMIN)
    for email in ("rev@example.org", "coord@example.org"):
        headers = bearer(token_pair(client, email)["token"])
        assert client.patch(f"/api/v1/users/{target}", headers=headers, json={"active": False}).status_code == 403
        assert client.post(f"/api/v1/users/{user_id(email)}/unlock", headers=headers).status_code == 403
    assert client.patch(f"/api/v1/users/{target}", json={"active": False}).status_code == 401
    with app.app_context():
        assert db.session.get(User, target).active is True


def test_the_last_active_admin_cannot_be_deactivated_or_demoted(app, api, user_id):
    client = app.test_client()
    for change in ({"active": False}, {"role": "reviewer"}):
        response = client.patch(f"/api/v1/users/{user_id(ADMIN)}", headers=api, json=change)
        assert response.status_code == 409 and response.get_json()["error"]["code"] == "last_admin"
    assert client.get("/api/v1/users", headers=api).status_code == 200


def test_invalid_user_changes_are_422_and_unknown_users_404(app, api, user_id):
    client = app.test_client()
    target = user_id(ADMIN)
    for body in ({}, {"active": "no"}, {"role": "boss"}, {"departments": ["astrology"]}):
        assert client.patch(f"/api/v1/users/{target}", headers=api, json=body).status_code == 422
    assert client.patch("/api/v1/users/999999", headers=api, json={"active": False}).status_code == 404


def test_coordinator_is_an_accepted_role(app, api):
    response = app.test_client().post("/api/v1/users", headers=api, json={
        "email": "coord@example.org", "password": "twelve chars!", "role": "coordinator", "departments": ["it"]})
    assert response.status_code == 201 and response.get_json()["role"] == "coordinator"


def test_users_page_deactivates_a_user_and_ends_their_session(app, admin, make_user, user_id):
    make_user("rev@example.org")
    reviewer = signed_in(app, "rev@example.org")
    assert reviewer.get("/users").status_code == 403

    office = signed_in(app, admin)
    page = office.get("/users").get_data(as_text=True)
    assert "rev@example.org" in page
    response = office.post(f"/users/{user_id('rev@example.org')}",
                           data={"csrf_token": csrf_token(page), "action": "deactivate"}, follow_redirects=True)
    assert "rev@example.org is deactivated" in response.get_data(as_text=True)
    assert signed_in_page(reviewer) == 302

    forged = reviewer.post(f"/users/{user_id(admin)}", data={"action": "deactivate"})
    assert forged.status_code in (302, 400)
    with app.app_context():
        assert db.session.get(User, user_id(admin)).active is True


def test_users_page_changes_role_and_departments(app, admin, make_user, user_id):
    make_user("rev@example.org", departments=["it"])
    office = signed_in(app, admin)
    token = csrf_token(office.get("/users").get_data(as_text=True))
    office.post(f"/users/{user_id('rev@example.org')}",
                data={"csrf_token": token, "action": "save", "role": "coordinator", "departments": ["hr", "it"]})
    with app.app_context():
        user = db.session.get(User, user_id("rev@example.org"))
        assert (user.role, sorted(user.departments)) == ("coordinator", ["hr", "it"])
    bad = office.post(f"/users/{user_id('rev@example.org')}",
                      data={"csrf_token": token, "action": "save", "role": "boss"}, follow_redirects=True)
    assert "Not a valid choice" in bad.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(User, user_id("rev@example.org")).role == "coordinator"


def test_a_forged_session_cookie_is_refused(app, admin):
    client = app.test_client()
    client.set_cookie("session", "forged-cookie-value")
    assert signed_in_page(client) == 302
