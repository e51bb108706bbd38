"""Per-address limits: submissions, status lookups and "find my application" answer 429 with Retry-After."""
from __future__ import annotations

import dataclasses

import pytest

from services.intake import create_app
from services.intake.db import db
from services.intake.programme.service import seed_call
from shared.config import Settings
from tests.conftest import rolled_back
from tests.integration.intake.test_access_links import csrf_token

ONE, OTHER = {"REMOTE_ADDR": "203.0.113.7"}, {"REMOTE_ADDR": "198.51.100.20"}


def build(settings, intake_database_url, **limits):
    return create_app(dataclasses.replace(settings, intake_database_url=intake_database_url, rate_limit_exempt="",
                                          **limits))


@pytest.fixture
def limited(settings, intake_database_url):
    """An intake whose limits are 2 of each per minute, loopback included."""
    app = build(settings, intake_database_url, submission_rate_limit="2 per minute",
                status_rate_limit="2 per minute", access_link_rate_limit="2 per minute")
    app.config["TESTING"] = True
    with rolled_back(db), app.app_context():
        seed_call(session=db.session, deadline=settings.call_deadline)
        db.session.commit()
        yield app


def client_from(app, address: dict):
    client = app.test_client()
    client.environ_base.update(address)
    return client


def assert_limited(response):
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) > 0
    error = response.get_json()["error"]
    assert error["code"] == "too_many_requests" and "Too many requests" in error["message"]


def test_submissions_through_the_api_and_the_form_count_together(limited):
    client = client_from(limited, ONE)
    for _ in range(2):
        assert client.post("/api/v1/applications", data={}, content_type="multipart/form-data").status_code == 422
    assert_limited(client.post("/api/v1/applications", data={}, content_type="multipart/form-data"))
    page = client.post("/apply?lang=en", data={"lang": "en", "csrf_token": csrf_token(client, "/apply")})
    assert page.status_code == 429 and "Retry-After" in page.headers
    assert "Too many requests from your address" in page.get_data(as_text=True)
    # another address is counted on its own
    other = client_from(limited, OTHER)
    assert other.post("/api/v1/applications", data={}, content_type="multipart/form-data").status_code == 422


def test_status_lookups_are_limited(limited):
    client = client_from(limited, ONE)
    auth = {"Authorization": "Bearer " + "0" * 64}
    for _ in range(2):
        assert client.get("/api/v1/applications/NIP27-AAAA-BBBB", headers=auth).status_code == 404
    assert_limited(client.get("/api/v1/applications/NIP27-AAAA-BBBB", headers=auth))
    assert client.get("/status/NIP27-AAAA-BBBB?token=abc", headers={"Accept": "text/html"}).status_code == 429


def test_access_links_are_limited_on_the_api_and_the_page(limited):
    client = client_from(limited, ONE)
    for _ in range(2):
        assert client.post("/api/v1/access-links", json={"email": "a@example.org"}).status_code == 202
    assert_limited(client.post("/api/v1/access-links", json={"email": "a@example.org"}))
    page = client.post("/find?lang=en", data={"email": "a@example.org", "csrf_token": csrf_token(client, "/find")})
    assert page.status_code == 429
    assert "Too many requests from your address" in page.get_data(as_text=True)


def access_link_answers(app, count: int, **environ) -> list[int]:
    client = client_from(app, environ)
    return [client.post("/api/v1/access-links", json={"email": "a@example.org"}).status_code for _ in range(count)]


def test_no_address_is_exempt_by_default_not_even_loopback(settings, intake_database_url, monkeypatch):
    """A reverse proxy on the same host must not switch the limits off for everyone behind it."""
    for name in ("RATE_LIMIT_EXEMPT", "TRUSTED_PROXIES"):
        monkeypatch.delenv(name, raising=False)
    defaults = Settings.from_env()
    app = create_app(dataclasses.replace(settings, intake_database_url=intake_database_url,
                                         rate_limit_exempt=defaults.rate_limit_exempt,
                                         trusted_proxies=defaults.trusted_proxies,
                                         access_link_rate_limit="2 per minute"))
    with rolled_back(db), app.app_context():
        assert access_link_answers(app, 3, REMOTE_ADDR="127.0.0.1") == [202, 202, 429]
        assert access_link_answers(app, 3, REMOTE_ADDR="::1") == [202, 202, 429]


def test_networks_exempted_explicitly_are_not_limited(settings, intake_database_url):
    app = create_app(dataclasses.replace(settings, intake_database_url=intake_database_url,
                                         rate_limit_exempt="127.0.0.0/8", access_link_rate_limit="1 per minute"))
    with rolled_back(db), app.app_context():
        assert access_link_answers(app, 3, REMOTE_ADDR="127.0.0.1") == [202, 202, 202]
        assert access_link_answers(app, 2, **ONE) == [202, 429]


def test_behind_a_trusted_proxy_each_client_is_counted_on_its_own(settings, intake_database_url, monkeypatch):
    monkeypatch.setenv("TRUSTED_PROXIES", "1")
    assert Settings.from_env().trusted_proxies == 1
    app = build(settings, intake_database_url, trusted_proxies=1, access_link_rate_limit="2 per minute")
    proxy = {"REMOTE_ADDR": "127.0.0.1"}
    with rolled_back(db), app.app_context():
        assert access_link_answers(app, 3, **proxy, HTTP_X_FORWARDED_FOR="203.0.113.7") == [202, 202, 429]
        # another applicant through the same proxy still gets through
        assert access_link_answers(app, 1, **proxy, HTTP_X_FORWARDED_FOR="198.51.100.20") == [202]
        # an address the client wrote itself before the proxy's is not believed
        assert access_link_answers(app, 1, **proxy, HTTP_X_FORWARDED_FOR="192.0.2.1, 203.0.113.7") == [429]


def test_without_trusted_proxies_a_forwarded_address_is_ignored(settings, intake_database_url):
    app = build(settings, intake_database_url, access_link_rate_limit="2 per minute")
    with rolled_back(db), app.app_context():
        answers = [access_link_answers(app, 1, **ONE, HTTP_X_FORWARDED_FOR=f"192.0.2.{n}")[0] for n in range(3)]
    assert answers == [202, 202, 429]


def test_workers_count_together_in_redis(settings, intake_database_url, redis_server):
    """Two processes (gunicorn workers or replicas) share one count when the broker is Redis."""
    apps = [build(settings, intake_database_url, broker_url=redis_server.url, access_link_rate_limit="2 per minute")
            for _ in range(2)]
    with rolled_back(db), apps[0].app_context():
        answers = [client_from(app, ONE).post("/api/v1/access-links", json={"email": "a@example.org"})
                   .status_code for app in (apps[0], apps[1], apps[0])]
    assert answers == [202, 202, 429]
