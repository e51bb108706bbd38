"""Every applicant page is sent with a CSP without inline script, frame protection, nosniff and no referrer."""
import re

import pytest

from tests.factories import application_payload, make_pdf, multipart, open_portal

PAGES = ["/apply", "/apply?lang=fr", "/status/NIP27-AAAA-BBBB", "/no-such-page"]


def signed_in_status_url(client) -> str:
    """The status page of a new application, with `client` signed in to it as its emailed link does."""
    data = multipart(application_payload(), cv=make_pdf("CV"), academic_proof=make_pdf("Proof"))
    body = client.post("/api/v1/applications", data=data, content_type="multipart/form-data").get_json()
    open_portal(client, body["reference"])
    return f"/status/{body['reference']}?lang=en"


def assert_protected(response) -> None:
    assert response.mimetype == "text/html"
    header = response.headers["Content-Security-Policy"]
    policy = dict((d.strip().split(" ", 1) + [""])[:2] for d in header.split(";"))
    assert policy["frame-ancestors"] == "'none'" and response.headers["X-Frame-Options"] == "DENY"
    assert policy["script-src"] == "'self'" and policy["default-src"] == "'self'"
    assert "unsafe-inline" not in header
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    # an address may hold an emailed link's secret (/access/...): no page may pass it on
    assert response.headers["Referrer-Policy"] == "no-referrer"


def assert_no_inline_code(page: str) -> None:
    assert not re.search(r"<script(?![^>]*\bsrc=)", page), "inline script is refused by the CSP"
    assert not re.search(r"<[^>]+\s(style|on[a-z]+)=", page) and "<style" not in page


@pytest.mark.parametrize("path", PAGES)
def test_html_pages_send_the_security_headers(client, path):
    response = client.get(path, headers={"Accept": "text/html"})
    assert_protected(response)
    assert_no_inline_code(response.get_data(as_text=True))


def test_status_page_sends_them_and_is_never_cached(client):
    response = client.get(signed_in_status_url(client).replace("lang=en", "lang=fr"))
    assert response.status_code == 200 and '<html lang="fr">' in response.get_data(as_text=True)
    assert_protected(response)
    assert_no_inline_code(response.get_data(as_text=True))
    assert response.headers["Cache-Control"] == "no-store"
