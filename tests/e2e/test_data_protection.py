"""Data protection end to end, on the whole stack in both modes: an application is reviewed and emailed, exported,
erased at the applicant's request; then no database, stored document, log (nor, in embedded mode, notify's
mailbox) holds the person, while the statistics still count them. Last, the retention job erases the
applications of a call whose period has passed."""
from __future__ import annotations

import io
import json
import re
import uuid
import zipfile

import requests
from sqlalchemy import create_engine, inspect, text

from tests.conftest import fresh_database
from tests.e2e.stack import ADMIN, SERVICES, Stack, embedded_processes, production_processes
from tests.e2e.test_pipeline import caught_mail, wait_for
from tests.factories import application_payload, make_pdf


def submit(intake: str, payload: dict, cv: bytes, proof: bytes) -> tuple[str, dict]:
    response = requests.post(f"{intake}/api/v1/applications", timeout=30, data={"application": json.dumps(payload)},
                             files={"cv": ("cv.pdf", cv, "application/pdf"),
                                    "academic_proof": ("proof.pdf", proof, "application/pdf")})
    assert response.status_code == 201, response.text
    body = response.json()
    return body["reference"], {"Authorization": f"Bearer {body['token']}"}


def text_hits(url: str, needles: list[str]) -> list[str]:
    """`table.column` of every value of a database, as text, containing one of `needles` (case-insensitive)."""
    engine, hits = create_engine(url), []
    with engine.connect() as connection:
        for table in inspect(connection).get_table_names():
            for column in (c["name"] for c in inspect(connection).get_columns(table)):
                for needle in needles:
                    found = connection.execute(text(f'SELECT count(*) FROM "{table}" WHERE '
                                                    f'lower(CAST("{column}" AS TEXT)) LIKE :needle'),
                                               {"needle": f"%{needle.lower()}%"}).scalar()
                    if found:
                        hits.append(f"{url.rsplit('/', 1)[-1]}:{table}.{column} holds {needle!r}")
    engine.dispose()
    return hits


def file_hits(folder, needles: list[bytes]) -> list[str]:
    return [f"{path} holds {needle[:30]!r}" for path in folder.rglob("*") if path.is_file()
            for needle in needles if needle in path.read_bytes()]


def test_in_embedded_mode(tmp_path, ports):
    with embedded_processes(tmp_path, ports) as (stack, urls, mail_dir):
        var = tmp_path / "var"
        databases = {name: f"sqlite:///{var / name}.db" for name in SERVICES}
        # embedded, the mail catcher is notify's own mailbox: it forgets the person too
        check_the_person_leaves_no_trace(stack, urls, databases, var / "documents", mail_dir=mail_dir)
        check_retention(stack, urls)


def test_in_production_mode(tmp_path, ports, redis_server):
    databases = {name: fresh_database(f"nip_e2e_dp_{name}") for name in SERVICES}
    with production_processes(tmp_path, ports, databases=databases, broker_url=redis_server.url) as (stack, urls,
                                                                                                   mail_dir):
        # the SMTP server stands for the applicant's own mailbox here (Mailpit): not ours to erase
        check_the_person_leaves_no_trace(stack, urls, databases, tmp_path / "documents", mail_dir=None,
                                         emails_from=mail_dir)
        check_retention(stack, urls)


def check_the_person_leaves_no_trace(stack: Stack, urls: dict, databases: dict, documents, *, mail_dir,
                                     emails_from=None) -> None:
    emails_from = emails_from or mail_dir
    intake, review, notify = urls["intake"], urls["review"], urls["notify"]
    marker = uuid.uuid4().hex[:10]
    email, given, family = f"dp.{marker}@example.org", f"Given{marker}", f"Family{marker}"
    cv_text, proof_text = f"Curriculum {marker} secret career", f"Diploma {marker} secret grades"
    cv, proof = make_pdf(cv_text, pages=1), make_pdf(proof_text)
    reference, applicant = submit(intake, application_payload(given_name=given, family_name=family, email=email,
                                                              departments=["it", "hr"], nationality="EE"), cv, proof)

    staff = {"Authorization": "Bearer " + requests.post(f"{review}/api/v1/auth/token", json=ADMIN,
                                                        timeout=10).json()["token"]}
    wait_for(lambda: requests.get(f"{review}/api/v1/applications/{reference}", headers=staff,
                                  timeout=10).json().get("dossier", {}).get("ready"), stack=stack, what="dossier")
    assert requests.get(f"{review}/applications/{reference}/dossier.pdf", headers=staff, timeout=10).status_code == 200
    assert requests.post(f"{review}/api/v1/applications/{reference}/decision", headers=staff, timeout=10,
                         json={"decision": "shortlisted", "reason_code": "strong_profile",
                               "note": "Good"}).status_code in (200, 201)
    assert requests.post(f"{review}/api/v1/decisions/release", headers=staff, timeout=10,
                         json={"references": [reference]}).status_code == 200
    wait_for(lambda: len([m for m in caught_mail(emails_from) if m["To"] == email]) >= 3, stack=stack,
             what="three emails to the applicant")

    export = requests.get(f"{intake}/api/v1/applications/{reference}/export", headers=applicant, timeout=30)
    assert export.status_code == 200, export.text
    archive = zipfile.ZipFile(io.BytesIO(export.content))
    data = json.loads(archive.read("application.json"))
    assert (data["email"], data["given_name"], data["status"]) == (email, given, "shortlisted")
    assert archive.read("documents/cv-cv.pdf") == cv and archive.read("documents/academic_proof-proof.pdf") == proof
    assert archive.read("dossier.pdf").startswith(b"%PDF")
    assert [h["new"] for h in json.loads(archive.read("history.json"))][-1] == "shortlisted"
    assert ("admin@example.org", "dossier.viewed") in {(v["who"], v["what"])
                                                       for v in json.loads(archive.read("access_log.json"))}
    before = requests.get(f"{review}/api/v1/statistics", headers=staff, timeout=10).json()

    erase_as_the_applicant(stack, intake, emails_from, reference, applicant, email)
    wait_for(lambda: requests.get(f"{review}/api/v1/applications/{reference}", headers=staff,
                                  timeout=10).json()["name"] == "(erased)", stack=stack, what="review told")
    wait_for(lambda: all(row["recipient"] in ("", None) for row in requests.get(
        f"{notify}/api/v1/notifications", params={"reference": reference}, headers=staff, timeout=10).json()["items"]),
        stack=stack, what="notify to erase its log")

    needles = [email, given, family, marker]
    hits = [hit for url in databases.values() for hit in text_hits(url, needles)]
    hits += file_hits(documents, [cv, proof, cv_text.encode(), marker.encode()])
    if mail_dir is not None:
        hits += file_hits(mail_dir, [email.encode(), given.encode(), marker.encode()])
    hits += file_hits(stack.workdir / "logs", [email.encode(), given.encode(), family.encode()])
    assert hits == []
    # the only application so far: its uploads and both dossiers are gone, whatever their (encrypted) bytes
    assert [path for path in documents.rglob("*") if path.is_file()] == []

    assert requests.get(f"{intake}/api/v1/applications/{reference}", headers=applicant, timeout=10).status_code == 410
    detail = requests.get(f"{review}/api/v1/applications/{reference}", headers=staff, timeout=10).json()
    assert detail["name"] == "(erased)" and detail["status"] == "shortlisted"
    after = requests.get(f"{review}/api/v1/statistics", headers=staff, timeout=10).json()
    assert after["by"] == before["by"] and after["erased"] == before["erased"] + 1
    assert after["by"]["nationality"]["EE"] >= 1 and after["by"]["department"]["hr"] >= 1


def erase_as_the_applicant(stack: Stack, intake: str, mail_dir, reference: str, applicant: dict, email: str) -> None:
    """Ask from the API, follow the emailed link in a browser session, confirm with the page's button."""
    asked = requests.post(f"{intake}/api/v1/applications/{reference}/erasure-request", headers=applicant, timeout=10)
    assert asked.status_code == 202, asked.text

    def link():
        for message in caught_mail(mail_dir):
            body = message.get_body(("plain",)).get_content()
            found = re.search(r"https?://\S+/privacy/erase/confirm\?t=[\w.-]+", body)
            if message["To"] == email and found:
                return found.group(0)
        return None

    browser = requests.Session()
    page = browser.get(wait_for(link, stack=stack, what="the erasure email"), timeout=10)
    assert page.status_code == 200 and reference in page.text
    form = dict(re.findall(r'name="(csrf_token|t)" value="([^"]+)"', page.text))
    done = browser.post(f"{intake}/privacy/erase/confirm", data=form, timeout=30)
    assert done.status_code == 200 and reference in done.text, done.text


def check_retention(stack: Stack, urls: dict) -> None:
    intake, review = urls["intake"], urls["review"]
    reference, applicant = submit(intake, application_payload(email=f"old.{uuid.uuid4().hex[:8]}@example.org"),
                                  make_pdf("An old CV"), make_pdf("An old proof"))
    wait_for(lambda: requests.get(f"{intake}/api/v1/applications/{reference}", headers=applicant,
                                  timeout=10).json()["dossier_ready"], stack=stack, what="the dossier")
    # the call closed long ago, and nothing is kept past it (RETENTION_MONTHS=0)
    past = {**stack.service_env.get("intake", {}), "CALL_DEADLINE": "2020-01-31 23:59", "RETENTION_MONTHS": "0"}
    stack.run_once("close the call", "python -m services.intake seed", env=past)
    result = stack.run_once("retention --dry-run", "python -m services.intake retention --dry-run", env=past)
    assert reference in result and "would erase" in result
    assert requests.get(f"{intake}/api/v1/applications/{reference}", headers=applicant, timeout=10).status_code == 200
    result = stack.run_once("retention", "python -m services.intake retention", env=past)
    assert reference in result and "erased" in result
    assert requests.get(f"{intake}/api/v1/applications/{reference}", headers=applicant, timeout=10).status_code == 410
    staff = {"Authorization": "Bearer " + requests.post(f"{review}/api/v1/auth/token", json=ADMIN,
                                                        timeout=10).json()["token"]}
    wait_for(lambda: requests.get(f"{review}/api/v1/applications/{reference}", headers=staff,
                                  timeout=10).json().get("name") == "(erased)", stack=stack, what="review told")
