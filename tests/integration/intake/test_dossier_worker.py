"""The render limits in a real `celery worker` on the render queue: a Word document that outlasts the task's
time limit ends flagged for staff, the worker lives on and renders the next dossier, and its children run
under the data limit of the settings."""
from __future__ import annotations

import dataclasses
import io
import random
import time
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from services.intake import create_app
from services.intake.applications.tasks import check_application
from services.intake.db import db
from services.intake.programme.service import seed_call
from shared.celery import make_celery
from tests.conftest import migrated_database
from tests.factories import application_payload, make_pdf, multipart
from tests.integration.bus.helpers import Worker, key_environment

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"


def long_word_cv(paragraphs: int) -> bytes:
    """A Word CV of a few hundred pages of varied words: accepted at upload, slow to convert and lay out."""
    rng = random.Random(3)
    words = ["".join(rng.choices("abcdefghijklmnopqrstuvwxyz", k=rng.randint(3, 9))) for _ in range(3000)]
    body = "".join(f"<w:p><w:r><w:t>{' '.join(rng.choices(words, k=14))}</w:t></w:r></w:p>"
                   for _ in range(paragraphs))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml",
                         '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
                         'content-types"><Default Extension="xml" ContentType="application/xml"/></Types>')
        archive.writestr("word/document.xml", f'<?xml version="1.0"?><w:document xmlns:w="{W}"><w:body>{body}'
                                              f'</w:body></w:document>')
    return buffer.getvalue()


def submitted(client, name: str, cv: tuple[bytes, str]) -> str:
    data = multipart(application_payload(given_name=name, email=f"{name.lower()}@example.org"),
                     academic_proof=make_pdf("Certificate of enrolment"))
    data["cv"] = (io.BytesIO(cv[0]), cv[1])
    response = client.post("/api/v1/applications", data=data, content_type="multipart/form-data")
    assert response.status_code == 201, response.get_json()
    reference = response.get_json()["reference"]
    assert check_application.run(reference) == "under_review"
    return reference


def rendered(engine, references: list[str], timeout: float = 40) -> dict[str, tuple]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            rows = {r.reference: r for r in conn.execute(text(
                "SELECT reference, dossier_pages, dossier_flags FROM applications WHERE dossier_key IS NOT NULL"))}
        if set(references) <= set(rows):
            return rows
        time.sleep(0.3)
    return rows


def data_limit(pid: int) -> str:
    return next(line.split()[3] for line in Path(f"/proc/{pid}/limits").read_text().splitlines()
                if line.startswith("Max data size"))


@pytest.mark.timeout(150)
def test_a_document_past_the_time_limit_ends_flagged_and_the_worker_renders_the_next(settings, redis_server,
                                                                                      tmp_path):
    url = migrated_database("intake", "_render_worker")
    settings = dataclasses.replace(settings, intake_database_url=url, broker_url=redis_server.url)
    app = create_app(settings)
    with app.app_context():
        seed_call(session=db.session, deadline=settings.call_deadline)
        db.session.commit()
        client = app.test_client()
        slow = submitted(client, "Ana", (long_word_cv(20000), "cv.docx"))
        following = submitted(client, "Ioana", (make_pdf("Curriculum vitae", pages=2), "cv.pdf"))
        db.session.remove()

    env = {**key_environment(), "INTAKE_DATABASE_URL": url, "BROKER_URL": redis_server.url,
           "VAR_DIR": str(tmp_path / "var"), "DOCUMENTS_DIR": str(settings.documents_dir),
           "DOCUMENTS_KEYS": settings.documents_keys, "RENDER_MEMORY_MB": "640"}
    worker = Worker("services.intake.worker", "intake.render", env, tmp_path / "worker.log", concurrency=1)
    engine = create_engine(url)
    try:
        worker.wait_ready()
        [child] = Path(f"/proc/{worker.process.pid}/task/{worker.process.pid}/children").read_text().split()
        assert data_limit(int(child)) == str(640 * 1024 * 1024)

        publisher = make_celery("test", settings=settings)
        # the production limits are a minute and two; the same mechanism with three seconds and forty (room for a loaded machine before the conversion starts)
        publisher.send_task("intake.render_dossier", args=[slow], queue="intake.render",
                            soft_time_limit=3, time_limit=40)
        publisher.send_task("intake.render_dossier", args=[following], queue="intake.render")
        rows = rendered(engine, [slow, following])

        log = worker.log()
        assert set(rows) == {slow, following}, log[-3000:]
        assert "Soft time limit (3" in log, log[-3000:]
        assert [f["code"] for f in rows[slow].dossier_flags] == ["document_not_converted"]
        assert rows[following].dossier_flags == [] and rows[following].dossier_pages >= 4
        # no task failed; a traceback alone may be Python reporting the limit's signal landing in a __del__
        # ("Exception ignored in: <function ZipFile.__del__>"), after which the page bound leaves the CV out
        assert worker.process.poll() is None and "raised unexpected" not in log, log[-3000:]
    finally:
        worker.stop()
        engine.dispose()
