"""Password guessing: a lock-out per email after repeated failures, lifted by an admin, and a limit per
address on every endpoint that checks a password or a refresh token."""
from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from services.review import create_app
from services.review.accounts import service as accounts_service
from services.review.accounts.models import LoginThrottle
from services.review.db import db
from shared.db import utcnow

from .conftest import PASSWORD, bearer, csrf_token, login, token_pair

WRONG = "not the password at all"


def attempt(client, email: str, password: str = WRONG, address: str = "127.0.0.1"):
    return client.post("/api/v1/auth/token", json={"email": email, "password": password},
                       environ_base={"REMOTE_ADDR": address})


def fail_ten_times(client, email: str) -> list[int]:
    # spread over addresses, as a distributed guesser would: only the per-account lock can stop it
    return [attempt(client, email, address=f"10.0.0.{n}").status_code for n in range(10)]


@pytest.fixture
def counted_hashes(monkeypatch):
    """How many argon2 verifications ran (real ones: the hasher is subclassed to count, not faked)."""
    calls = []

    class CountingHasher(PasswordHasher):
        def verify(self, hash_, password):
            calls.append(1)
            return super().verify(hash_, password)

    monkeypatch.setattr(accounts_service, "hasher", CountingHasher())
    return calls


def test_eleven_wrong_passwords_lock_the_account_even_against_the_right_one(app, admin):
    client = app.test_client()
    assert fail_ten_times(client, admin) == [401] * 10
    eleventh = attempt(client, admin, address="10.0.1.1")
    assert eleventh.status_code == 429
    assert eleventh.get_json()["error"]["code"] == "too_many_attempts"
    assert int(eleventh.headers["Retry-After"]) > 0

    right = attempt(client, admin, PASSWORD, address="10.0.1.2")
    assert right.status_code == 429 and right.get_json() == eleventh.get_json()
    page = login(app.test_client(), admin)
    assert page.status_code == 429
    assert "Too many failed sign-in attempts" in page.get_data(as_text=True)
    assert app.test_client().get("/applications").status_code == 302


def test_a_locked_account_costs_no_password_hash(app, admin, counted_hashes):
    client = app.test_client()
    fail_ten_times(client, admin)
    assert len(counted_hashes) == 10
    for n in range(5):
        assert attempt(client, admin, PASSWORD, address=f"10.0.2.{n}").status_code == 429
    assert len(counted_hashes) == 10


def test_unknown_emails_lock_the_same_way_so_lockout_reveals_no_account(app, admin):
    client = app.test_client()
    fail_ten_times(client, admin)
    fail_ten_times(client, "nobody@example.org")
    known, unknown = attempt(client, admin, address="10.0.3.1"), attempt(client, "nobody@example.org",
                                                                         address="10.0.3.2")
    assert known.status_code == unknown.status_code == 429
    assert known.get_json() == unknown.get_json()
    with app.app_context():
        stored = db.session.scalars(select(LoginThrottle.email_hash)).all()
    assert all("@" not in key and len(key) == 64 for key in stored)


def test_an_admin_unlocks_a_locked_account(app, api, make_user, user_id):
    make_user("rev@example.org")
    client = app.test_client()
    fail_ten_times(client, "rev@example.org")
    assert attempt(client, "rev@example.org", PASSWORD, address="10.0.4.1").status_code == 429
    listed = {u["email"]: u for u in client.get("/api/v1/users", headers=api).get_json()["items"]}
    assert listed["rev@example.org"]["locked"] is True and listed["admin@example.org"]["locked"] is False

    unlocked = client.post(f"/api/v1/users/{user_id('rev@example.org')}/unlock", headers=api)
    assert unlocked.status_code == 200 and unlocked.get_json()["locked"] is False
    assert attempt(client, "rev@example.org", PASSWORD, address="10.0.4.2").status_code == 200
    assert client.post("/api/v1/users/999999/unlock", headers=api).status_code == 404


def test_the_users_page_shows_a_lock_and_lifts_it(app, admin, make_user, user_id):
    make_user("rev@example.org")
    fail_ten_times(app.test_client(), "rev@example.org")
    office = app.test_client()
    login(office, admin)
    page = office.get("/users").get_data(as_text=True)
    assert "locked after failed sign-ins" in page
    done = office.post(f"/users/{user_id('rev@example.org')}", data={"csrf_token": csrf_token(page),
                                                                       "action": "unlock"},
                       follow_redirects=True)
    assert "rev@example.org can sign in again." in done.get_data(as_text=True)
    assert attempt(app.test_client(), "rev@example.org", PASSWORD, address="10.0.5.1").status_code == 200


def test_a_reviewer_cannot_unlock(app, admin, make_user, user_id):
    make_user("rev@example.org")
    fail_ten_times(app.test_client(), admin)
    headers = bearer(token_pair(app.test_client(), "rev@example.org")["token"])
    assert app.test_client().post(f"/api/v1/users/{user_id(admin)}/unlock", headers=headers).status_code == 403
    assert attempt(app.test_client(), admin, PASSWORD, address="10.0.6.1").status_code == 429


def test_the_lock_ends_by_itself_after_the_lock_out_period(app, admin):
    client = app.test_client()
    fail_ten_times(client, admin)
    with app.app_context():
        throttle = db.session.scalars(select(LoginThrottle)).one()
        throttle.locked_until = utcnow() - timedelta(seconds=1)
        db.session.commit()
    assert attempt(client, admin, PASSWORD, address="10.0.7.1").status_code == 200
    # a success clears the count: nine more failures do not lock
    assert [attempt(client, admin, address=f"10.0.8.{n}").status_code for n in range(9)] == [401] * 9
    assert attempt(client, admin, PASSWORD, address="10.0.8.100").status_code == 200


def test_failures_older_than_the_window_do_not_count(app, admin):
    client = app.test_client()
    assert [attempt(client, admin, address=f"10.0.9.{n}").status_code for n in range(9)] == [401] * 9
    with app.app_context():
        throttle = db.session.scalars(select(LoginThrottle)).one()
        throttle.window_started_at -= timedelta(minutes=16)
        db.session.commit()
    assert [attempt(client, admin, address=f"10.0.10.{n}").status_code for n in range(5)] == [401] * 5
    assert attempt(client, admin, PASSWORD, address="10.0.10.100").status_code == 200


def test_the_html_login_counts_failures_too(app, admin):
    client = app.test_client()
    for n in range(10):
        token = csrf_token(client.get("/login").get_data(as_text=True))
        response = client.post("/login", data={"email": admin, "password": WRONG, "csrf_token": token},
                               environ_base={"REMOTE_ADDR": f"10.0.11.{n}"})
        assert "Email or password is incorrect." in response.get_data(as_text=True)
    assert attempt(client, admin, PASSWORD, address="10.0.11.100").status_code == 429


def test_per_address_limit_on_the_token_endpoint_is_429_json(app, admin):
    app.config["LOGIN_RATE_LIMIT"] = "3 per minute"
    client = app.test_client()
    assert [attempt(client, admin, PASSWORD).status_code for _ in range(3)] == [200] * 3
    limited = attempt(client, admin, PASSWORD)
    assert limited.status_code == 429
    assert set(limited.get_json()["error"]) == {"code", "message", "fields"}
    assert "Retry-After" in limited.headers
    assert attempt(client, admin, PASSWORD, address="10.1.0.1").status_code == 200  # another address


def test_per_address_limit_on_the_refresh_endpoint(app, admin):
    app.config["LOGIN_RATE_LIMIT"] = "3 per minute"
    client = app.test_client()
    for _ in range(3):
        client.post("/api/v1/auth/refresh", json={"refresh_token": "guess"})
    assert client.post("/api/v1/auth/refresh", json={"refresh_token": "guess"}).status_code == 429


def test_per_address_limit_on_the_login_page_shows_the_form_with_a_message(app, admin):
    app.config["LOGIN_RATE_LIMIT"] = "2 per minute"
    client = app.test_client()
    for _ in range(2):
        login(client, admin, WRONG)
    limited = login(client, admin, PASSWORD)
    assert limited.status_code == 429
    html = limited.get_data(as_text=True)
    assert "Too many sign-in attempts from your address" in html and 'name="password"' in html
    assert client.get("/applications").status_code == 302
    assert client.get("/login").status_code == 200  # reading the form is not limited


def test_per_address_limit_is_shared_through_redis_by_every_worker(review_settings, redis_server):
    settings = dataclasses.replace(review_settings, broker_url=redis_server.url)
    workers = [create_app(settings), create_app(settings)]
    for app in workers:
        app.config["LOGIN_RATE_LIMIT"] = "3 per minute"
    statuses = [attempt(workers[n % 2].test_client(), "limit-probe@example.org", address="10.2.0.1").status_code
                for n in range(4)]
    assert statuses == [401, 401, 401, 429]
    import redis
    assert any(b"review-login" in key for key in redis.Redis.from_url(redis_server.url).keys("*"))


def test_with_redis_unreachable_sign_in_still_answers_and_the_limit_falls_back_to_memory(review_settings):
    from services.notify.mailcatcher import free_port

    settings = dataclasses.replace(review_settings, broker_url=f"redis://127.0.0.1:{free_port()}/0")
    app = create_app(settings)
    app.config["LOGIN_RATE_LIMIT"] = "2 per minute"
    statuses = [attempt(app.test_client(), "redis-down-probe@example.org", address="10.3.0.1").status_code
                for _ in range(3)]
    assert statuses == [401, 401, 429]


def test_concurrent_failures_are_all_counted(settings):
    """Ten guesses at once (one per address) lock the account: no failure is lost to a race."""
    from concurrent.futures import ThreadPoolExecutor

    from services.review.accounts.service import create_user
    from tests.conftest import migrated_database

    app = create_app(dataclasses.replace(settings, review_database_url=migrated_database("review", "_guesses")))
    with app.app_context():
        create_user(session=db.session, email="target@example.org", password=PASSWORD, role="reviewer")
        db.session.commit()

    def guess(n: int) -> int:
        return attempt(app.test_client(), "target@example.org", address=f"10.4.0.{n}").status_code

    assert guess(0) == 401  # the counter exists: every guess below reads it before its slow hash
    with ThreadPoolExecutor(max_workers=9) as pool:
        assert sorted(pool.map(guess, range(1, 10))) == [401] * 9
    with app.app_context():
        assert db.session.scalars(select(LoginThrottle.failures)).one() == 10
    assert attempt(app.test_client(), "target@example.org", PASSWORD, address="10.4.1.1").status_code == 429
