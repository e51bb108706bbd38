"""Log lines and events carry the correlation id and reference of what is being handled."""
from __future__ import annotations

import io
import json
import logging

import pytest

from shared.bus.consumer import traced
from shared.events import make_event
from shared.logging import ContextFields, JsonFormatter, RedactSecrets, log_context, sane_id

CHECKED = {"reference": "NIP27-0042", "eligible": True, "complete": True, "problems": []}


@pytest.fixture
def json_lines():
    """A logger writing JSON lines as configure_logging's handler does."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter("test"))
    handler.addFilter(RedactSecrets())
    handler.addFilter(ContextFields())
    logger = logging.getLogger("tests.log_context")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield logger, lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    logger.removeHandler(handler)


def test_lines_inside_a_context_carry_its_ids_and_lines_after_it_do_not(json_lines):
    logger, lines = json_lines
    with log_context(correlation="req-1234", ref="NIP27-0042"):
        logger.info("inside")
        with log_context(correlation="req-5678"):
            logger.info("nested")
        logger.info("inside again", extra={"reference": "NIP27-0001"})  # a line's own reference wins
    logger.info("after")

    assert [(line["msg"], line.get("correlation_id"), line.get("reference")) for line in lines()] == [
        ("inside", "req-1234", "NIP27-0042"),
        ("nested", "req-5678", None),
        ("inside again", "req-1234", "NIP27-0001"),
        ("after", None, None),
    ]


def test_an_event_made_while_handling_a_request_or_event_carries_its_correlation_id():
    assert make_event("application.checked", CHECKED, producer="intake")["correlation_id"] is None
    with log_context(correlation="req-1234"):
        assert make_event("application.checked", CHECKED, producer="intake")["correlation_id"] == "req-1234"
        explicit = make_event("application.checked", CHECKED, producer="intake", correlation_id="other-1")
        assert explicit["correlation_id"] == "other-1"


def test_a_consumer_takes_the_ids_from_the_envelope_it_handles(json_lines):
    logger, lines = json_lines
    envelope = make_event("application.checked", CHECKED, producer="intake", correlation_id="req-9999")
    with traced(envelope):
        logger.info("handling")
        follow_up = make_event("application.checked", CHECKED, producer="review")
    with traced({"data": "not a dict", "correlation_id": "bad id\nforged"}):
        logger.info("odd envelope")

    assert [(line.get("correlation_id"), line.get("reference")) for line in lines()] == [
        ("req-9999", "NIP27-0042"), (None, None)]
    assert follow_up["correlation_id"] == "req-9999"


@pytest.mark.parametrize("value, sane", [
    ("0f8c2b7e9d", True), ("trace-abc.1:2", True), ("x" * 64, True), ("x" * 65, False), ("", False),
    ("has space", False), ("line\nbreak", False), ("-leading-dash", False), (None, False), (42, False),
])
def test_only_short_plain_tokens_serve_as_correlation_ids(value, sane):
    assert sane_id(value) == (value if sane else None)
