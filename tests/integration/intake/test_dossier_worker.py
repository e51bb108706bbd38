"""The render limits in a real `celery worker` on the render queue: a Word document that outlasts the task's
soft time limit ends flagged for staff, one that gets its render killed (hard limit) is left out after a few
attempts, the worker lives on and renders the next dossier, and its children run under the data limit of the
settings."""
from __future__ import annotations

import dataclasses
import io
import random
import time
import zipfile
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlalchemy import create_engine, text

from services.intake import create_app
from services.intake.applications.tasks import check_application
from services.intake.db import db
from services.intake.dossier.tasks import MAX_RENDER_ATTEMPTS
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


@pytest.fixture
def render_worker(settings, redis_server, tmp_path):
    """A real render worker (one child, the data limit of the settings) on a migrated PostgreSQL database,
    with two applications: `slow` sends a Word CV of hundreds of pages, `following` a PDF one."""
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
        yield SimpleNamespace(worker=worker, engine=engine, slow=slow, following=following,
                              publisher=make_celery("test", settings=settings))
    finally:
        worker.stop()
        engine.dispose()


def alive_and_no_task_failed(worker) -> None:
    # a traceback alone may be Python reporting the limit's signal landing in a __del__ ("Exception ignored
    # in: <function ZipFile.__del__>"); a task that failed is "raised unexpected"
    log = worker.log()
    assert worker.process.poll() is None and "raised unexpected" not in log, log[-3000:]


@pytest.mark.timeout(150)
def test_a_document_past_the_soft_time_limit_ends_flagged_and_the_worker_renders_the_next(render_worker):
    w = render_worker
    [child] = Path(f"/proc/{w.worker.process.pid}/task/{w.worker.process.pid}/children").read_text().split()
    assert data_limit(int(child)) == str(640 * 1024 * 1024)

    # the production limits are a minute and two; the same mechanism with one second (less than the CV takes
    # anywhere: it lands in the conversion, the layout or the assembly) and forty
    w.publisher.send_task("intake.render_dossier", args=[w.slow], queue="intake.render",
                          soft_time_limit=1, time_limit=40)
    w.publisher.send_task("intake.render_dossier", args=[w.following], queue="intake.render")
    rows = rendered(w.engine, [w.slow, w.following])

    log = w.worker.log()
    assert set(rows) == {w.slow, w.following}, log[-3000:]
    assert "Soft time limit (1" in log, log[-3000:]
    # the CV alone is left out when the limit fell in its conversion or layout; everything is, elsewhere
    assert {f["code"] for f in rows[w.slow].dossier_flags} <= {"document_not_converted", "document_not_rendered"}
    assert "Curriculum vitae" in {f["message"].split(":")[0] for f in rows[w.slow].dossier_flags}
    assert rows[w.following].dossier_flags == [] and rows[w.following].dossier_pages >= 4
    alive_and_no_task_failed(w.worker)


@pytest.mark.timeout(240)
def test_a_document_that_gets_its_render_killed_is_left_out_after_a_few_attempts(render_worker):
    w = render_worker
    # the hard limit a moment after the soft one (the worker times it from the soft one): the child is killed
    # mid-render whatever the soft limit started, and the sweeper asks again
    for attempt in range(1, MAX_RENDER_ATTEMPTS + 1):
        w.publisher.send_task("intake.render_dossier", args=[w.slow], queue="intake.render",
                              soft_time_limit=1, time_limit=1.02)
        deadline = time.monotonic() + 60
        while w.worker.log().count("Hard time limit (") < attempt:
            assert time.monotonic() < deadline, w.worker.log()[-3000:]
            time.sleep(0.3)
    with w.engine.connect() as conn:
        assert conn.scalar(text("SELECT dossier_attempts FROM applications WHERE reference = :r"),
                           {"r": w.slow}) == MAX_RENDER_ATTEMPTS
    # the next attempt opens nothing: the summary names every document, left out, and staff see why
    w.publisher.send_task("intake.render_dossier", args=[w.slow], queue="intake.render")
    w.publisher.send_task("intake.render_dossier", args=[w.following], queue="intake.render")
    rows = rendered(w.engine, [w.slow, w.following])
    assert set(rows) == {w.slow, w.following}, w.worker.log()[-3000:]
    assert [f["code"] for f in rows[w.slow].dossier_flags] == ["document_not_rendered"] * 2
    assert rows[w.following].dossier_flags == [] and rows[w.following].dossier_pages >= 4
    with w.engine.connect() as conn:
        assert conn.scalar(text("SELECT dossier_attempts FROM applications WHERE reference = :r"),
                           {"r": w.slow}) == 0
    alive_and_no_task_failed(w.worker)
