"""Events from intake build the read model, exactly once and in any order."""
from __future__ import annotations

from datetime import timedelta

from .conftest import T0, bearer, checked, dossier_rendered, status_changed, submitted, token_for


def detail(app, reference):
    client = app.test_client()
    return client.get(f"/api/v1/applications/{reference}", headers=bearer(token_for(client, "admin@example.org")))


def test_events_build_the_application_step_by_step(app, admin, deliver):
    deliver(submitted("NIP27-0001", departments=["it", "hr"]))
    first = detail(app, "NIP27-0001").get_json()
    assert first["status"] == "submitted"
    assert first["name"] == "Ana Petrova" and first["departments"] == ["it", "hr"]
    assert first["dossier"]["ready"] is False

    deliver(checked("NIP27-0001", eligible=True, complete=False,
                    problems=[{"code": "missing_document", "message": "Proof of studies is missing."}],
                    at=T0 + timedelta(minutes=1)),
            dossier_rendered("NIP27-0001", pages=7, at=T0 + timedelta(minutes=2)),
            status_changed("NIP27-0001", "under_review", at=T0 + timedelta(minutes=3)))
    body = detail(app, "NIP27-0001").get_json()
    assert body["status"] == "under_review"
    assert body["eligible"] is True and body["complete"] is False
    assert body["problems"] == [{"code": "missing_document", "message": "Proof of studies is missing."}]
    assert body["dossier"]["ready"] is True and body["dossier"]["pages"] == 7
    assert body["dossier"]["url"].endswith("/applications/NIP27-0001/dossier.pdf")
    assert body["email"] == "ana@example.org"


def test_the_same_event_twice_changes_nothing(app, admin, deliver):
    event = submitted("NIP27-0002")
    late = status_changed("NIP27-0002", "under_review", at=T0 + timedelta(minutes=5))
    assert deliver(event, late) == [True, True]
    before = detail(app, "NIP27-0002").get_json()
    assert deliver(event, late) == [False, False]
    after = detail(app, "NIP27-0002").get_json()
    assert after == before
    assert after["status"] == "under_review"


def test_an_older_status_event_arriving_late_is_ignored(app, admin, deliver):
    deliver(submitted("NIP27-0003"),
            status_changed("NIP27-0003", "withdrawn", old="under_review", at=T0 + timedelta(hours=2)),
            status_changed("NIP27-0003", "under_review", at=T0 + timedelta(hours=1)))
    assert detail(app, "NIP27-0003").get_json()["status"] == "withdrawn"


def test_an_older_dossier_event_arriving_late_is_ignored(app, admin, deliver):
    # two renders announced; the first handled last (the worker handling it was killed before it committed)
    deliver(submitted("NIP27-0004"),
            dossier_rendered("NIP27-0004", pages=4, sha256="bb" * 32, at=T0 + timedelta(minutes=3)),
            dossier_rendered("NIP27-0004", pages=3, sha256="aa" * 32, at=T0 + timedelta(minutes=2)))
    assert detail(app, "NIP27-0004").get_json()["dossier"]["pages"] == 4


def test_status_before_submission_creates_the_row_and_submission_fills_it_in(app, admin, deliver):
    deliver(status_changed("NIP27-0004", "under_review", at=T0 + timedelta(minutes=5)),
            dossier_rendered("NIP27-0004", at=T0 + timedelta(minutes=4)))
    early = detail(app, "NIP27-0004").get_json()
    assert early["status"] == "under_review" and early["name"] == "Ana Petrova"
    deliver(submitted("NIP27-0004", departments=["comms"]))
    body = detail(app, "NIP27-0004").get_json()
    assert body["status"] == "under_review"
    assert body["departments"] == ["comms"] and body["nationality"] == "BG"
    assert body["dossier"]["ready"] is True


def test_an_invalid_event_is_dead_lettered_without_effect(app, admin, deliver):
    bad = submitted("NIP27-0005")
    bad["data"]["departments"] = []
    assert deliver(bad) == [False]
    assert detail(app, "NIP27-0005").status_code == 404
