"""Password guessing, throttled where an attacker cannot aim it (OWASP Authentication Cheat Sheet): failures
counted per (account, source) and per account, a source that has been failing refused (its own limit, or the
account's doubling wait), a source that has not been failing always heard; an admin clears the count; a
limit per address on every endpoint that checks a password or a refresh token, counting the client behind a
trusted proxy."""
from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from services.review import create_app
from services.review.accounts import service as accounts_service
from services.review.accounts.models import LoginSourceThrottle, LoginThrottle
from services.review.accounts.service import ThrottlePolicy, create_user
from services.review.db import db
from shared.db import utcnow
from tests.conftest import rolled_back

from .conftest import PASSWORD, bearer, csrf_token, login, token_pair

WRONG = "not the password at all"
# no doubling wait: what the per-source limit does on its own
NO_WAIT = ThrottlePolicy(first_wait=timedelta(0))


def attempt(client, email: str, password: str = WRONG, address: str = "127.0.0.1", **environ):
    return client.post("/api/v1/auth/token", json={"email": email, "password": password},
                       environ_base={"REMOTE_ADDR": address, **environ})


def fail_from_ten_addresses(client, email: str) -> list[int]:
    # spread over addresses, as a distributed guesser would
    return [attempt(client, email, address=f"10.0.0.{n}").status_code for n in range(10)]


def fail_from_one_address(client, email: str, address: str = "10.0.99.1", times: int = 5) -> list[int]:
    return [attempt(client, email, address=address).status_code for _ in range(times)]


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


def test_the_wait_doubles_per_failure_past_the_free_ones_and_is_capped():
    policy = ThrottlePolicy()
    waits = [policy.wait_after(n).total_seconds() for n in range(1, 16)]
    assert waits[:3] == [0, 0, 0]
    assert waits[3:9] == [1, 2, 4, 8, 16, 32]
    assert max(waits) == policy.max_wait.total_seconds() == waits[-1]
    assert policy.wait_after(10**6) == policy.max_wait


def test_ten_failures_from_ten_addresses_do_not_stop_the_right_password_from_an_eleventh(app, admin):
    """The old lock-out's attack: anyone could lock any staff account by guessing it ten times."""
    client = app.test_client()
    assert fail_from_ten_addresses(client, admin) == [401] * 10
    assert attempt(client, admin, PASSWORD, address="10.0.1.1").status_code == 200
    page = login(app.test_client(), admin)
    assert page.status_code == 302
    # while those ten sources, having failed, wait out the account's doubled wait
    refused = attempt(client, admin, PASSWORD, address="10.0.0.3")
    assert refused.status_code == 429 and refused.get_json()["error"]["code"] == "too_many_attempts"
    assert int(refused.headers["Retry-After"]) > 0


def test_a_source_guessing_one_account_is_refused_and_no_one_else_is(app, admin):
    app.config["LOGIN_THROTTLE"] = NO_WAIT
    client = app.test_client()
    assert fail_from_one_address(client, admin) == [401] * 5
    refused = attempt(client, admin, address="10.0.99.1")
    assert refused.status_code == 429
    assert refused.get_json()["error"]["message"].startswith("Too many failed sign-in attempts")
    assert int(refused.headers["Retry-After"]) > 14 * 60  # until the source has been quiet for the window
    # even its right password: the guesser does not learn it has found it
    assert attempt(client, admin, PASSWORD, address="10.0.99.1").status_code == 429
    assert attempt(client, admin, PASSWORD, address="10.0.99.2").status_code == 200
    # the same source is not refused for another account
    assert attempt(client, "someone-else@example.org", address="10.0.99.1").status_code == 401


def test_a_source_guessing_one_account_is_slowed_by_the_doubling_wait(app, admin):
    client = app.test_client()
    assert fail_from_one_address(client, admin, times=4) == [401] * 4  # three free, the fourth starts a wait
    slowed = attempt(client, admin, PASSWORD, address="10.0.99.1")
    # Retry-After: the later of this wait and the per-address limit's window (Flask-Limiter takes the max)
    assert slowed.status_code == 429 and int(slowed.headers["Retry-After"]) > 0
    with app.app_context():
        throttle = db.session.get(LoginThrottle, accounts_service.email_hash(admin))
        assert throttle.failures == 4 and throttle.wait_until > utcnow()
        assert throttle.wait_until - throttle.last_failed_at == timedelta(seconds=1)
        throttle.wait_until = utcnow() - timedelta(seconds=1)  # the wait is over
        db.session.commit()
    assert attempt(client, admin, address="10.0.99.1").status_code == 401
    with app.app_context():
        throttle = db.session.get(LoginThrottle, accounts_service.email_hash(admin))
        assert throttle.failures == 5
        assert timedelta(seconds=1) < throttle.wait_until - throttle.last_failed_at <= timedelta(seconds=2)


def test_an_ipv6_network_counts_as_one_source(app, admin):
    app.config["LOGIN_THROTTLE"] = NO_WAIT
    client = app.test_client()
    assert [attempt(client, admin, address=f"2001:db8:1:2::{n:x}").status_code for n in range(5)] == [401] * 5
    assert attempt(client, admin, PASSWORD, address="2001:db8:1:2::ffff").status_code == 429
    assert attempt(client, admin, PASSWORD, address="2001:db8:1:3::1").status_code == 200


def test_a_refused_attempt_costs_no_password_hash(app, admin, counted_hashes):
    app.config["LOGIN_THROTTLE"] = NO_WAIT
    client = app.test_client()
    fail_from_one_address(client, admin)
    assert len(counted_hashes) == 5
    for _ in range(5):
        assert attempt(client, admin, PASSWORD, address="10.0.99.1").status_code == 429
    assert len(counted_hashes) == 5


def test_unknown_emails_are_throttled_the_same_way_so_the_throttle_reveals_no_account(app, admin):
    app.config["LOGIN_THROTTLE"] = NO_WAIT
    client = app.test_client()
    fail_from_one_address(client, admin)
    fail_from_one_address(client, "nobody@example.org")
    known = attempt(client, admin, address="10.0.99.1")
    unknown = attempt(client, "nobody@example.org", address="10.0.99.1")
    assert known.status_code == unknown.status_code == 429
    assert known.get_json() == unknown.get_json()
    with app.app_context():
        stored = [*db.session.scalars(select(LoginThrottle.email_hash)),
                  *db.session.scalars(select(LoginSourceThrottle.source_hash))]
    assert stored and all(len(key) == 64 and set(key) <= set("0123456789abcdef") for key in stored)


def test_an_admin_unlocks_a_throttled_account(app, api, make_user, user_id):
    app.config["LOGIN_THROTTLE"] = NO_WAIT
    make_user("rev@example.org")
    client = app.test_client()
    fail_from_one_address(client, "rev@example.org", address="10.0.4.1")
    assert attempt(client, "rev@example.org", PASSWORD, address="10.0.4.1").status_code == 429
    listed = {u["email"]: u for u in client.get("/api/v1/users", headers=api).get_json()["items"]}
    assert listed["rev@example.org"]["locked"] is True and listed["admin@example.org"]["locked"] is False

    unlocked = client.post(f"/api/v1/users/{user_id('rev@example.org')}/unlock", headers=api)
    assert unlocked.status_code == 200 and unlocked.get_json()["locked"] is False
    assert attempt(client, "rev@example.org", PASSWORD, address="10.0.4.1").status_code == 200
    assert client.post("/api/v1/users/999999/unlock", headers=api).status_code == 404


def test_the_users_page_shows_a_throttle_and_clears_it(app, admin, make_user, user_id):
    make_user("rev@example.org")
    fail_from_ten_addresses(app.test_client(), "rev@example.org")
    office = app.test_client()
    login(office, admin)
    page = office.get("/users").get_data(as_text=True)
    assert "sign-in slowed after failed attempts" in page
    done = office.post(f"/users/{user_id('rev@example.org')}", data={"csrf_token": csrf_token(page),
                                                                       "action": "unlock"},
                       follow_redirects=True)
    assert "rev@example.org can sign in again." in done.get_data(as_text=True)
    assert attempt(app.test_client(), "rev@example.org", PASSWORD, address="10.0.0.1").status_code == 200


def test_the_users_page_says_it_in_french(app, admin, make_user):
    make_user("rev@example.org")
    fail_from_ten_addresses(app.test_client(), "rev@example.org")
    office = app.test_client()
    login(office, admin)
    with app.app_context():
        from services.review.accounts.models import User
        db.session.scalar(select(User).where(User.email == admin)).language = "fr"
        db.session.commit()
    assert "connexion ralentie après des échecs" in office.get("/users").get_data(as_text=True)


def test_a_reviewer_cannot_unlock(app, admin, make_user, user_id):
    app.config["LOGIN_THROTTLE"] = NO_WAIT
    make_user("rev@example.org")
    fail_from_one_address(app.test_client(), admin)
    headers = bearer(token_pair(app.test_client(), "rev@example.org")["token"])
    assert app.test_client().post(f"/api/v1/users/{user_id(admin)}/unlock", headers=headers).status_code == 403
    assert attempt(app.test_client(), admin, PASSWORD, address="10.0.99.1").status_code == 429


def test_failures_older_than_the_window_are_forgotten(app, admin):
    app.config["LOGIN_THROTTLE"] = NO_WAIT
    client = app.test_client()
    fail_from_one_address(client, admin)
    with app.app_context():
        for row in (*db.session.scalars(select(LoginThrottle)), *db.session.scalars(select(LoginSourceThrottle))):
            row.last_failed_at -= timedelta(minutes=16)
        db.session.commit()
    assert fail_from_one_address(client, admin, times=4) == [401] * 4
    assert attempt(client, admin, PASSWORD, address="10.0.99.1").status_code == 200
    # the right password cleared this source's count
    assert fail_from_one_address(client, admin, times=4) == [401] * 4


def test_the_html_login_counts_failures_too(app, admin):
    app.config["LOGIN_THROTTLE"] = NO_WAIT
    client = app.test_client()
    for _ in range(5):
        token = csrf_token(client.get("/login").get_data(as_text=True))
        response = client.post("/login", data={"email": admin, "password": WRONG, "csrf_token": token},
                               environ_base={"REMOTE_ADDR": "10.0.11.1"})
        assert "Email or password is incorrect." in response.get_data(as_text=True)
    token = csrf_token(client.get("/login").get_data(as_text=True))
    refused = client.post("/login", data={"email": admin, "password": PASSWORD, "csrf_token": token},
                          environ_base={"REMOTE_ADDR": "10.0.11.1"})
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert "Too many failed sign-in attempts for this account from your address" in refused.get_data(as_text=True)
    assert attempt(client, admin, PASSWORD, address="10.0.11.2").status_code == 200


@pytest.fixture
def behind_one_proxy(review_settings):
    """Review as production runs it behind the ingress: TRUSTED_PROXIES=1, and the real admin."""
    app = create_app(dataclasses.replace(review_settings, trusted_proxies=1))
    app.config["TESTING"] = True
    with rolled_back(db), app.app_context():
        create_user(session=db.session, email="admin@example.org", password=PASSWORD, role="admin")
        db.session.commit()
        yield app


def test_behind_the_ingress_22_logins_from_one_client_do_not_lock_out_the_admin(behind_one_proxy):
    """The reported attack: the per-address limit counted the ingress, so one client spent everyone's."""
    client = behind_one_proxy.test_client()
    ingress = {"address": "10.42.0.7"}
    answers = [attempt(client, f"guess{n}@example.org", **ingress, HTTP_X_FORWARDED_FOR="203.0.113.5").status_code
               for n in range(22)]
    assert answers == [401] * 20 + [429] * 2
    admin = attempt(client, "admin@example.org", PASSWORD, **ingress, HTTP_X_FORWARDED_FOR="198.51.100.7")
    assert admin.status_code == 200


def test_behind_the_ingress_a_client_cannot_pass_for_another_by_writing_the_header(behind_one_proxy):
    client = behind_one_proxy.test_client()
    # what the client wrote comes first; the ingress appends the address it saw, the only one believed
    answers = [attempt(client, f"guess{n}@example.org", address="10.42.0.7",
                       HTTP_X_FORWARDED_FOR=f"192.0.2.{n}, 203.0.113.5").status_code for n in range(21)]
    assert answers[-1] == 429


def test_reached_directly_a_client_cannot_choose_its_address_with_the_header(app, admin):
    """TRUSTED_PROXIES=0 (the default): X-Forwarded-For is ignored, the peer address is counted."""
    client = app.test_client()
    answers = [attempt(client, f"guess{n}@example.org", address="192.0.2.99",
                       HTTP_X_FORWARDED_FOR=f"198.51.100.{n}").status_code for n in range(21)]
    assert answers == [401] * 20 + [429]
    assert attempt(client, admin, PASSWORD, address="192.0.2.100").status_code == 200


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
    """Ten guesses at once (one per address) are all counted, and still the right password signs in."""
    from concurrent.futures import ThreadPoolExecutor

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
        assert len(db.session.scalars(select(LoginSourceThrottle)).all()) == 10
    assert attempt(app.test_client(), "target@example.org", PASSWORD, address="10.4.1.1").status_code == 200
    assert attempt(app.test_client(), "target@example.org", PASSWORD, address="10.4.0.3").status_code == 429
