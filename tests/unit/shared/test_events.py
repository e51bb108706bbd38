import pytest
from marshmallow import ValidationError

from shared.events import SCHEMAS, SUBSCRIBERS, load_event, make_event


def test_envelope_has_the_documented_shape():
    event = make_event("decision.released", {"reference": "NIP27-AAAA-BBBB", "decision": "reserve",
                                             "reason_code": None, "released_by": "a@example.org"}, producer="review")
    assert set(event) == {"id", "type", "version", "occurred_at", "producer", "data", "correlation_id", "signature"}
    assert load_event(event)["data"]["decision"] == "reserve"


def test_invalid_data_is_refused_at_the_producer():
    with pytest.raises(ValidationError):
        make_event("decision.released", {"reference": "X", "decision": "maybe", "reason_code": None,
                                         "released_by": "a"}, producer="review")


def test_unknown_type_is_refused_at_the_consumer():
    event = make_event("application.checked", {"reference": "X", "eligible": True, "complete": True,
                                               "problems": []}, producer="intake")
    with pytest.raises(ValidationError):
        load_event({**event, "type": "application.exploded"})


def test_every_event_type_has_a_subscriber():
    assert set(SUBSCRIBERS) == set(SCHEMAS)
