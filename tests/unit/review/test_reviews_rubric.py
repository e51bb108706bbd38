"""The rubric: loading it from configuration, checking scores against it, the weighted aggregate."""
from __future__ import annotations

import json

import pytest

from services.review.reviews.rubric import DEFAULT_RUBRIC, load_rubric, score_errors, weighted_aggregate
from shared.config import SettingsError


def test_the_default_rubric_has_the_four_criteria_on_one_to_five():
    rubric = load_rubric(None)
    assert [c["code"] for c in rubric] == ["academic_record", "motivation", "language_skills",
                                           "department_relevance"]
    assert all((c["min"], c["max"]) == (1, 5) for c in rubric)


def test_a_rubric_from_json_text_or_a_file(tmp_path):
    criteria = [{"code": "fit", "label": "Fit", "weight": 3, "min": 0, "max": 10}]
    assert load_rubric(json.dumps(criteria))[0]["weight"] == 3.0
    path = tmp_path / "rubric.json"
    path.write_text(json.dumps(criteria))
    assert load_rubric(str(path))[0]["code"] == "fit"


@pytest.mark.parametrize("raw", [
    "[]",
    '[{"code": "fit", "label": "Fit", "weight": 1, "min": 1, "max": 5}, '
    '{"code": "fit", "label": "Again", "weight": 1, "min": 1, "max": 5}]',
    '[{"code": "fit", "label": "Fit", "weight": 0, "min": 1, "max": 5}]',
    '[{"code": "fit", "label": "Fit", "weight": 1, "min": 5, "max": 5}]',
    '[{"code": "Fit!", "label": "Fit", "weight": 1, "min": 1, "max": 5}]',
    "[not json",
    "/no/such/rubric.json",
])
def test_a_bad_rubric_stops_the_service(raw):
    with pytest.raises(SettingsError, match="REVIEW_RUBRIC"):
        load_rubric(raw)


def test_the_aggregate_is_the_weighted_mean():
    # weights 1, 1, 0.5, 1.5
    assert weighted_aggregate({"academic_record": 5, "motivation": 3, "language_skills": 2,
                               "department_relevance": 2}, DEFAULT_RUBRIC) == 3.0
    assert weighted_aggregate(dict.fromkeys(["academic_record", "motivation", "language_skills",
                                             "department_relevance"], 5), DEFAULT_RUBRIC) == 5.0


def test_score_errors_name_each_bad_criterion():
    good = {"academic_record": 1, "motivation": 5, "language_skills": 3, "department_relevance": 2}
    assert score_errors(good, DEFAULT_RUBRIC) == {}
    errors = score_errors({**good, "motivation": 9, "extra": 1, "academic_record": False}, DEFAULT_RUBRIC)
    assert set(errors) == {"motivation", "extra", "academic_record"}
    assert set(score_errors({}, DEFAULT_RUBRIC)) == {c["code"] for c in DEFAULT_RUBRIC}
    assert score_errors([1, 2], DEFAULT_RUBRIC) == {"_schema": ["Send an object of criterion code to integer score."]}
