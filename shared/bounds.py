"""Bounds for the integers a client sends: ids in paths and queries, pages and sizes.

A database column holds a signed 64-bit integer at most: a larger number from a URL reaches the driver and
fails there (SQLite: `OverflowError`; PostgreSQL: `NumericValueOutOfRange`), which is a 500. Every integer
from a client is therefore bounded where it is parsed, so it is refused with a 4xx, on both databases:

- a path id: the URL converter `id` (`@bp.get("/users/<id:user_id>")`, after `register_converters(app)`,
  which must run before the blueprints are registered): 1 to `MAX_ID`, digits only; anything else does not
  match the route, so the answer is the service's 404 JSON error;
- a query or body id: the marshmallow field `Id()` (1 to `MAX_ID`; a 422 `invalid_fields` error with the
  field named); a page or a size: `fields.Integer(validate=validate.Range(min=1, max=...))` as usual;
- in an OpenAPI document: `id_path_parameter(name)`, or the schema apispec makes of `Id()`, both carrying
  the bounds (`minimum`, `maximum`, `format: int64`), so a client and a fuzzer know them.
"""
from __future__ import annotations

from flask import Flask
from marshmallow import fields, validate
from werkzeug.routing import IntegerConverter, Map

MAX_ID = 2**63 - 1  # the largest signed 64-bit integer: BIGINT in PostgreSQL, INTEGER in SQLite


class IdConverter(IntegerConverter):
    """`<id:name>`: a positive integer that fits a signed 64-bit column; otherwise the route does not match."""

    def __init__(self, map: Map, *args, **kwargs) -> None:
        super().__init__(map, min=1, max=MAX_ID)


def register_converters(app: Flask) -> None:
    """Make `<id:...>` available to `app`'s routes; call before registering blueprints that use it."""
    app.url_map.converters["id"] = IdConverter


class Id(fields.Integer):
    """An id in a query or a body: an integer from 1 to `MAX_ID`, refused with the field's error otherwise."""

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("validate", validate.Range(min=1, max=MAX_ID))
        metadata = {"format": "int64", **kwargs.pop("metadata", {})}
        super().__init__(metadata=metadata, **kwargs)


def id_path_parameter(name: str) -> dict:
    """The OpenAPI description of a path parameter served by the `id` converter."""
    return {"name": name, "in": "path", "required": True,
            "schema": {"type": "integer", "format": "int64", "minimum": 1, "maximum": MAX_ID}}
