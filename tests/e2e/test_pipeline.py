"""The whole pipeline over HTTP, every process running as it does in production, then in embedded mode."""
from __future__ import annotations

import email
import io
import json
import time
from email import policy

import pytest
import requests
from pypdf import PdfReader

from tests.conftest import fresh_database
from tests.e2e.stack import ADMIN, SERVICES, Stack, embedded_processes, production_processes
from tests.factories import application_payload, make_pdf


def wait_for(check, *, timeout=90.0, interval=0.3, stack: Stack | None = None, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if stack is not None:
            stack.check_alive()
        value = check()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}\n{stack.logs() if stack else ''}")


def caught_mail(mail_dir) -> list:
    return [email.message_from_bytes(p.read_bytes(), policy=policy.default) for p in sorted(mail_dir.glob("*.eml"))]


def run_pipeline(stack: Stack, urls: dict, mail_dir, *, language: str) -> None:
    intake, review, notify = urls["intake"], urls["review"], urls["notify"]
    programme = requests.get(f"{intake}/api/v1/programme", timeout=10).json()
    assert programme["name"] == "NATO Internship Programme 2027"

    cv, proof = make_pdf("Curriculum vitae of Jan Novak", pages=2), make_pdf("Diploma supplement", pages=1)
    payload = application_payload(given_name="Jan", family_name="Novák", email="jan.novak@example.org",
                                  nationality="CZ", correspondence_language=language)
    response = requests.post(f"{intake}/api/v1/applications", timeout=30,
                             data={"application": json.dumps(payload)},
                             files={"cv": ("cv.pdf", cv, "application/pdf"),
                                    "academic_proof": ("proof.pdf", proof, "application/pdf")})
    assert response.status_code == 201, response.text
    created = response.json()
    reference, applicant = created["reference"], {"Authorization": f"Bearer {created['token']}"}

    def intake_status():
        return requests.get(f"{intake}/api/v1/applications/{reference}", headers=applicant, timeout=10).json()

    checked = wait_for(lambda: (s := intake_status())["status"] == "under_review" and s, stack=stack,
                       what="under_review")
    assert [h["new"] for h in checked["history"]] == ["submitted", "checking", "under_review"]

    token = requests.post(f"{review}/api/v1/auth/token", json=ADMIN, timeout=10).json()["token"]
    staff = {"Authorization": f"Bearer {token}"}
    detail = wait_for(lambda: (d := requests.get(f"{review}/api/v1/applications/{reference}", headers=staff,
                                                 timeout=10).json()).get("dossier", {}).get("ready") and d,
                      stack=stack, what="the dossier in review")
    assert detail["status"] == "under_review"
    dossier = requests.get(f"{review}/applications/{reference}/dossier.pdf", headers=staff, timeout=10)
    assert dossier.status_code == 200 and dossier.headers["Content-Type"] == "application/pdf"
    reader = PdfReader(io.BytesIO(dossier.content))
    assert len(reader.pages) == detail["dossier"]["pages"] >= 1 + 2 + 1
    text = "\n".join(page.extract_text() for page in reader.pages)
    assert reference in text and "Jan Novák" in text
    assert "Curriculum vitae of Jan Novak" in text and "Diploma supplement" in text

    decided = requests.post(f"{review}/api/v1/applications/{reference}/decision", headers=staff, timeout=10,
                            json={"decision": "shortlisted", "reason_code": "strong_profile", "note": "Excellent"})
    assert decided.status_code in (200, 201), decided.text
    assert intake_status()["status"] == "under_review"  # recorded, not released
    released = requests.post(f"{review}/api/v1/decisions/release", headers=staff, timeout=10,
                             json={"references": [reference]})
    assert released.status_code == 200 and reference in released.json()["released"], released.text
    final = wait_for(lambda: (s := intake_status())["status"] == "shortlisted" and s, stack=stack,
                     what="shortlisted")
    assert [h["new"] for h in final["history"]][-1] == "shortlisted"
    wait_for(lambda: requests.get(f"{review}/api/v1/applications/{reference}", headers=staff,
                                  timeout=10).json()["status"] == "shortlisted", stack=stack, what="review status")

    # one email per candidate-visible change: submitted, under_review, shortlisted
    wait_for(lambda: len(caught_mail(mail_dir)) >= 3, stack=stack, what="three emails")
    time.sleep(2)  # a duplicate would arrive now
    messages = caught_mail(mail_dir)
    assert len(messages) == 3, [m["Subject"] for m in messages]
    for message in messages:
        assert message["To"] == "jan.novak@example.org"
        assert reference in message["Subject"]
        assert reference in message.get_body(("plain",)).get_content()
    if language == "fr":
        assert all("candidature" in m["Subject"].lower() for m in messages)
    else:
        assert all("application" in m["Subject"].lower() for m in messages)
    log = requests.get(f"{notify}/api/v1/notifications", params={"reference": reference}, headers=staff,
                       timeout=10).json()
    assert sorted(row["state"] for row in log["items"]) == ["sent"] * 3


@pytest.fixture
def production_stack(tmp_path, ports, redis_server):
    """Every compose service's own command and environment, against this host's PostgreSQL and Redis."""
    databases = {name: fresh_database(f"nip_e2e_{name}") for name in SERVICES}
    with production_processes(tmp_path, ports, databases=databases, broker_url=redis_server.url) as running:
        yield running


@pytest.fixture
def embedded_stack(tmp_path, ports):
    """`make run`'s processes: SQLite, Celery over the filesystem, the local mail catcher."""
    with embedded_processes(tmp_path, ports) as running:
        yield running


def test_pipeline_in_production_mode(production_stack):
    stack, urls, mail_dir = production_stack
    run_pipeline(stack, urls, mail_dir, language="fr")


def test_pipeline_in_embedded_mode(embedded_stack):
    stack, urls, mail_dir = embedded_stack
    run_pipeline(stack, urls, mail_dir, language="en")
    mailbox = requests.get(f"{urls['notify']}/mailbox", timeout=10)
    assert mailbox.status_code == 200 and "NIP27-" in mailbox.text
