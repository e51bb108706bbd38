"""A backup taken in the middle of a season, restored into an empty stack: the stack carries on with nothing lost
(status pages, dossiers, review's decisions, the notification log) and no email sent twice."""
from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import time

import pytest
import requests
from pypdf import PdfReader

from services.notify.mailcatcher import free_port
from shared.backup import new_backup_key
from tests.conftest import RedisServer, fresh_database
from tests.e2e.stack import ADMIN, ROOT, production_processes, production_secrets
from tests.e2e.test_pipeline import caught_mail, wait_for
from tests.factories import application_payload, make_pdf

pytestmark = pytest.mark.e2e
BIN = os.path.dirname(sys.executable)


def submit(urls: dict, given: str, family: str) -> dict:
    payload = application_payload(given_name=given, family_name=family, email=f"{given.lower()}@example.org")
    response = requests.post(f"{urls['intake']}/api/v1/applications", timeout=30,
                             data={"application": json.dumps(payload)},
                             files={"cv": ("cv.pdf", make_pdf(f"CV of {given} {family}", pages=2), "application/pdf"),
                                    "academic_proof": ("proof.pdf", make_pdf(f"Diploma of {given}"), "application/pdf")})
    assert response.status_code == 201, response.text
    return response.json()


def status(urls: dict, application: dict) -> dict:
    return requests.get(f"{urls['intake']}/api/v1/applications/{application['reference']}", timeout=10,
                        headers={"Authorization": f"Bearer {application['token']}"}).json()


def staff(urls: dict) -> dict:
    token = requests.post(f"{urls['review']}/api/v1/auth/token", json=ADMIN, timeout=10).json()["token"]
    return {"Authorization": f"Bearer {token}"}


def review_detail(urls: dict, headers: dict, reference: str) -> dict:
    return requests.get(f"{urls['review']}/api/v1/applications/{reference}", headers=headers, timeout=10).json()


def in_review_with_dossier(stack, urls: dict, application: dict) -> None:
    wait_for(lambda: status(urls, application)["status"] == "under_review", stack=stack, what="under_review")
    headers = staff(urls)
    wait_for(lambda: review_detail(urls, headers, application["reference"]).get("dossier", {}).get("ready"),
             stack=stack, what="the dossier in review")


def backup_command(stack, *args: str, key: str) -> subprocess.CompletedProcess:
    """`python -m shared.backup` with the settings compose's backup service gets (every database, the documents,
    the backup key)."""
    env = {**os.environ, **stack.service_env["migrate"], "PATH": f"{BIN}:{os.environ['PATH']}", "BACKUP_KEY": key}
    env.pop("PYTHONPATH", None)
    return subprocess.run([f"{BIN}/python", "-m", "shared.backup", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)


def test_a_stack_restored_from_a_mid_season_backup_carries_on(tmp_path, ports, redis_server):
    secrets = production_secrets()  # the same keys on both stacks: applicants' tokens keep working
    archive = tmp_path / "backups" / "mid-season.tar"
    key = new_backup_key()  # held outside both stacks: by the backup job and by whoever restores
    first = {name: fresh_database(f"nip_e2e_backup_a_{name}") for name in ("intake", "review", "notify")}
    with production_processes(tmp_path / "a", ports, databases=first, broker_url=redis_server.url,
                              secrets=secrets) as (stack, urls, mail_dir):
        ana, jan = submit(urls, "Ana", "Popescu"), submit(urls, "Jan", "Novák")
        in_review_with_dossier(stack, urls, ana)
        in_review_with_dossier(stack, urls, jan)
        decided = requests.post(f"{urls['review']}/api/v1/applications/{ana['reference']}/decision",
                                headers=staff(urls), timeout=10,
                                json={"decision": "shortlisted", "reason_code": "strong_profile", "note": "Excellent"})
        assert decided.status_code in (200, 201), decided.text
        wait_for(lambda: len(caught_mail(mail_dir)) >= 4, stack=stack, what="received + under review, twice")

        created = backup_command(stack, "create", "--out", str(archive), key=key)  # the stack keeps running meanwhile

        assert created.returncode == 0, created.stderr
        before = {a["reference"]: status(urls, a) for a in (ana, jan)}
        emails_before = len(caught_mail(mail_dir))

    second = {name: fresh_database(f"nip_e2e_backup_b_{name}") for name in ("intake", "review", "notify")}
    new_ports = {name: free_port() for name in ports}
    redis_b = RedisServer(tmp_path / "redis-b").start()
    try:
        # restore before the new stack's migrate step: it goes into empty databases and an empty documents folder
        env = {**os.environ, "INTAKE_DATABASE_URL": second["intake"], "REVIEW_DATABASE_URL": second["review"],
               "NOTIFY_DATABASE_URL": second["notify"], "DOCUMENTS_DIR": str(tmp_path / "b" / "documents"),
               "VAR_DIR": str(tmp_path / "b" / "var"), "BROKER_URL": redis_b.url, "BACKUP_KEY": key}
        env.pop("PYTHONPATH", None)
        restored = subprocess.run([f"{BIN}/python", "-m", "shared.backup", "restore", str(archive)], cwd=ROOT,
                                  env=env, capture_output=True, text=True, timeout=300)
        assert restored.returncode == 0, restored.stderr
        # every event of this short season was sent within the backup's clock margin: all go out again
        resent = re.search(r"'intake': (\d+)", restored.stdout)
        assert resent and int(resent.group(1)) > 0, restored.stdout

        with production_processes(tmp_path / "b", new_ports, databases=second, broker_url=redis_b.url,
                                  secrets=secrets) as (stack, urls, mail_dir):
            # status pages: the same for each applicant, with their old token
            for application in (ana, jan):
                assert status(urls, application) == before[application["reference"]]
            # dossiers: in review, and the PDF is whole
            headers = staff(urls)  # the admin account came back (no second first-admin)
            for application in (ana, jan):
                assert review_detail(urls, headers, application["reference"])["dossier"]["ready"]
            dossier = requests.get(f"{urls['review']}/applications/{ana['reference']}/dossier.pdf", headers=headers,
                                   timeout=10)
            assert dossier.status_code == 200
            text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(dossier.content)).pages)
            assert ana["reference"] in text and "CV of Ana Popescu" in text
            # review: the decision recorded before the backup is there to release; intake and notify follow
            released = requests.post(f"{urls['review']}/api/v1/decisions/release", headers=headers, timeout=10,
                                     json={"references": [ana["reference"]]})
            assert released.status_code == 200 and ana["reference"] in released.json()["released"], released.text
            wait_for(lambda: status(urls, ana)["status"] == "shortlisted", stack=stack, what="shortlisted")
            # a new application goes all the way through
            zoe = submit(urls, "Zoe", "Lefevre")
            in_review_with_dossier(stack, urls, zoe)
            # emails: only the new ones (shortlisted for Ana, received + under review for Zoe); the events re-sent
            # after the restore were already handled before the backup, so none is sent twice
            wait_for(lambda: len(caught_mail(mail_dir)) >= 3, stack=stack, what="the new emails")
            wait_for(lambda: not requests.get(f"{urls['notify']}/api/v1/notifications", headers=headers, timeout=10,
                                              params={"reference": zoe["reference"]}).json()["items"] == [],
                     stack=stack, what="zoe's log")
            time.sleep(3)  # a duplicate would arrive now
            recipients = sorted(str(m["To"]) for m in caught_mail(mail_dir))
            assert recipients == ["ana@example.org", "zoe@example.org", "zoe@example.org"], recipients
            log = requests.get(f"{urls['notify']}/api/v1/notifications", params={"reference": ana["reference"]},
                               headers=headers, timeout=10).json()["items"]
            assert sorted(row["state"] for row in log) == ["sent"] * 3  # two from before the backup, one after
            assert emails_before == 4
    finally:
        redis_b.stop()
