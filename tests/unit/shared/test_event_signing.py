"""Signed events (shared/events/signing.py): what a consumer refuses before any effect."""
import copy
from datetime import datetime, timezone

import pytest
from marshmallow import ValidationError

from shared.events import load_event, make_event, sign_event, signing
from shared.keys import generate_signing_key, load_private_key, public_key_pem

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=timezone.utc)
DECISION = {"reference": "NIP27-AAAA-BBBB", "decision": "shortlisted", "reason_code": None,
            "released_by": "admin@example.org"}
ACCESS = {"reference": "NIP27-AAAA-BBBB", "email": "victim@example.org", "name": "Ana Petrova", "language": "en",
          "link": "https://apply.example.org/portal/enter/abc", "expires_at": T0,
          "purpose": "status"}
STATUS = {"reference": "NIP27-AAAA-BBBB", "old": "checking", "new": "under_review", "reason": None,
          "email": "ana@example.org", "name": "Ana Petrova", "language": "en",
          "link": "https://apply.example.org/portal/enter/xyz", "link_expires_at": T0}


def refused(envelope) -> str:
    with pytest.raises(ValidationError) as caught:
        load_event(envelope)
    assert "signature" in caught.value.messages
    return " ".join(caught.value.messages["signature"])


def test_a_signed_event_loads():
    event = make_event("decision.released", DECISION, producer="review")

    assert event["signature"]
    assert load_event(copy.deepcopy(event))["data"]["decision"] == "shortlisted"


@pytest.mark.parametrize("change", [
    lambda e: e["data"].__setitem__("decision", "rejected"),
    lambda e: e["data"].__setitem__("reference", "NIP27-ZZZZ-ZZZZ"),
    lambda e: e.__setitem__("id", "00000000-0000-4000-8000-000000000000"),
    lambda e: e.__setitem__("occurred_at", "2030-01-01T00:00:00+00:00"),
    lambda e: e.__setitem__("correlation_id", "forged"),
    lambda e: e["data"].__setitem__("extra", "x"),
])
def test_a_tampered_field_is_refused(change):
    event = make_event("decision.released", DECISION, producer="review")
    change(event)

    assert "bad signature" in refused(event)


def test_a_missing_or_malformed_signature_is_refused():
    event = make_event("decision.released", DECISION, producer="review")
    unsigned = {key: value for key, value in event.items() if key != "signature"}

    assert "unsigned" in refused(unsigned)
    assert "unsigned" in refused({**event, "signature": ""})
    assert refused({**event, "signature": "!!not base64!!"})
    assert refused({**event, "signature": event["signature"][:-4]})
    with pytest.raises(ValidationError):
        load_event(["not", "an", "envelope"])


def test_a_signature_by_another_key_is_refused():
    event = make_event("decision.released", DECISION, producer="review")
    signing.sign(event, key=load_private_key(generate_signing_key()))

    assert "bad signature" in refused(event)


def test_an_event_signed_by_the_wrong_producer_is_refused():
    # a decision signed with intake's (valid) key, claiming intake: intake does not produce decisions
    decision = make_event("decision.released", DECISION, producer="review")
    decision["producer"] = "intake"
    sign_event(decision)
    assert "not produced by 'intake'" in refused(decision)

    # an access link signed by review but claiming intake: the signature is not intake's
    access = make_event("application.access_requested", ACCESS, producer="intake")
    signing.sign(access, key=signing._signing["review"])
    assert "bad signature for producer intake" in refused(access)

    # ... and claiming review: review does not produce access links
    access["producer"] = "review"
    sign_event(access)
    assert "not produced by 'review'" in refused(access)


def test_the_type_is_signed_too():
    event = make_event("review.unassigned", {"reference": "NIP27-AAAA-BBBB", "reviewer_id": 1,
                                             "unassigned_at": T0, "reason": "x"},
                       producer="review")
    event["type"] = "decision.released"

    assert "bad signature" in refused(event)


def test_a_process_without_the_producers_key_cannot_sign(monkeypatch):
    monkeypatch.setattr(signing, "_signing", {})

    with pytest.raises(signing.EventSigningError, match="INTAKE_EVENT_SIGNING_KEY"):
        make_event("application.access_requested", ACCESS, producer="intake")


def test_a_consumer_without_the_producers_public_key_refuses(monkeypatch):
    event = make_event("decision.released", DECISION, producer="review")
    monkeypatch.setattr(signing, "_verify", {})

    assert "REVIEW_EVENT_VERIFY_KEY" in refused(event)


def test_a_previous_public_key_still_verifies_while_rotating(monkeypatch):
    old, new = generate_signing_key(), generate_signing_key()
    event = signing.sign(make_event("decision.released", DECISION, producer="review"), key=load_private_key(old))
    monkeypatch.setattr(signing, "_verify", dict(signing._verify))

    signing.use_keys(verify={"review": public_key_pem(new) + public_key_pem(old)})
    assert load_event(copy.deepcopy(event))

    signing.use_keys(verify={"review": public_key_pem(new)})
    assert "bad signature" in refused(event)


def test_the_copy_without_the_link_verifies_and_a_link_put_back_does_not():
    event = make_event("application.status_changed", STATUS, producer="intake")
    copy_for_sync = signing.redact(event)

    assert "link" not in copy_for_sync["data"] and "redacted_signature" not in copy_for_sync
    assert load_event(copy.deepcopy(copy_for_sync))["data"]["new"] == "under_review"
    assert load_event(copy.deepcopy(event))["data"]["link"] == STATUS["link"]

    forged = copy.deepcopy(copy_for_sync)
    forged["data"]["link"] = "https://attacker.example/phish"
    assert "bad signature" in refused(forged)
    swapped = copy.deepcopy(event)
    swapped["data"]["link"] = "https://attacker.example/phish"
    assert "bad signature" in refused(swapped)
