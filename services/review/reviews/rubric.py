"""The scoring rubric: criteria with weights and ranges, from configuration."""
from __future__ import annotations

import json
import os
from pathlib import Path

from flask import Flask, current_app
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from shared.config import SettingsError

DEFAULT_RUBRIC = [
    {"code": "academic_record", "label": "Academic record", "weight": 1.0, "min": 1, "max": 5},
    {"code": "motivation", "label": "Motivation", "weight": 1.0, "min": 1, "max": 5},
    {"code": "language_skills", "label": "Language skills", "weight": 0.5, "min": 1, "max": 5},
    {"code": "department_relevance", "label": "Relevance to the department", "weight": 1.5, "min": 1, "max": 5},
]


class Criterion(Schema):
    code = fields.String(required=True, validate=validate.Regexp(r"^[a-z][a-z0-9_]{0,39}$"))
    label = fields.String(required=True, validate=validate.Length(min=1, max=100))
    weight = fields.Float(required=True, validate=validate.Range(min=0, min_inclusive=False, max=100))
    min = fields.Integer(required=True, strict=True)
    max = fields.Integer(required=True, strict=True)

    @validates_schema
    def _range(self, data, **kwargs):
        if data["min"] >= data["max"]:
            raise ValidationError("min must be below max.", "max")


def load_rubric(raw: str | None) -> list[dict]:
    """The rubric from `raw` (JSON, or the path of a JSON file), or the default when unset."""
    if not raw:
        return [dict(c) for c in DEFAULT_RUBRIC]
    try:
        text = raw if raw.lstrip().startswith("[") else Path(raw).read_text(encoding="utf-8")
        rubric = Criterion(many=True).load(json.loads(text))
    except (OSError, ValueError, ValidationError) as exc:
        raise SettingsError(f"REVIEW_RUBRIC is not a valid rubric: {exc}") from exc
    codes = [c["code"] for c in rubric]
    if not rubric or len(set(codes)) != len(codes):
        raise SettingsError("REVIEW_RUBRIC needs at least one criterion and unique codes.")
    return rubric


def init_app(app: Flask) -> None:
    """Load the rubric once at start-up, so a bad setting stops the service instead of a review."""
    app.config.setdefault("REVIEW_RUBRIC", load_rubric(os.environ.get("REVIEW_RUBRIC")))


def current_rubric() -> list[dict]:
    return current_app.config["REVIEW_RUBRIC"]


def weighted_aggregate(scores: dict[str, int], rubric: list[dict]) -> float:
    """The weighted mean of one review's scores over the rubric's criteria."""
    total_weight = sum(c["weight"] for c in rubric)
    return round(sum(scores[c["code"]] * c["weight"] for c in rubric) / total_weight, 3)


def score_errors(scores: object, rubric: list[dict]) -> dict[str, list[str]]:
    """Per criterion, what is wrong with `scores` (empty when every criterion has a score in range)."""
    if not isinstance(scores, dict):
        return {"_schema": ["Send an object of criterion code to integer score."]}
    known = {c["code"]: c for c in rubric}
    errors = {code: ["Not a criterion of the rubric."] for code in scores if code not in known}
    for code, criterion in known.items():
        value = scores.get(code)
        if value is None:
            errors[code] = ["Score this criterion."]
        elif not isinstance(value, int) or isinstance(value, bool) or not criterion["min"] <= value <= criterion["max"]:
            errors[code] = [f"A whole number from {criterion['min']} to {criterion['max']}."]
    return errors
