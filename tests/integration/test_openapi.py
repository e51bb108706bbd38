"""Each service's `/openapi.json`: a valid OpenAPI 3 document that covers every `/api/v1` route the app serves."""
from __future__ import annotations

import dataclasses
import re

import pytest
from openapi_schema_validator import OAS30Validator
from openapi_spec_validator import validate

from services.intake import create_app as intake_app
from services.notify import create_app as notify_app
from services.review import create_app as review_app

FACTORIES = {"intake": intake_app, "review": review_app, "notify": notify_app}
# a request each service refuses for want of a token, to hold its error against the documented shape
UNAUTHENTICATED = {"intake": ("/api/v1/applications/NIP-0000-0000", "/api/v1/applications/{reference}"),
                   "review": ("/api/v1/users", "/api/v1/users"),
                   "notify": ("/api/v1/notifications", "/api/v1/notifications")}
IGNORED_METHODS = {"HEAD", "OPTIONS"}


@pytest.fixture(params=sorted(FACTORIES))
def service_app(request, settings):
    app = FACTORIES[request.param](dataclasses.replace(settings, broker_url="filesystem://"))
    app.config["TESTING"] = True
    return request.param, app


def openapi_path(rule: str) -> str:
    """`/users/<int:user_id>` as OpenAPI writes it: `/users/{user_id}`."""
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


def api_routes(app) -> set[tuple[str, str]]:
    return {(openapi_path(rule.rule), method.lower()) for rule in app.url_map.iter_rules()
            if rule.rule.startswith("/api/v1/") for method in rule.methods - IGNORED_METHODS}


def documented_routes(spec: dict) -> set[tuple[str, str]]:
    return {(path, method) for path, operations in spec["paths"].items() for method in operations
            if method in {"get", "put", "post", "delete", "patch"}}


def served_spec(app) -> dict:
    response = app.test_client().get("/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    return response.get_json()


def test_spec_is_valid_openapi_3_without_signing_in(service_app):
    _, app = service_app
    spec = served_spec(app)
    assert spec["openapi"].startswith("3.")
    validate(spec)  # raises on any violation of the OpenAPI 3 schema or a dangling $ref


def test_every_api_route_of_the_app_is_documented_with_its_method(service_app):
    name, app = service_app
    served = api_routes(app)
    assert served, f"{name} serves no /api/v1 route: the url_map walk is broken"
    missing = served - documented_routes(served_spec(app))
    assert not missing, f"{name}: routes missing from /openapi.json: {sorted(missing)}"


def test_spec_documents_no_route_the_app_does_not_serve(service_app):
    name, app = service_app
    stale = documented_routes(served_spec(app)) - api_routes(app)
    assert not stale, f"{name}: /openapi.json documents routes the app does not serve: {sorted(stale)}"


def test_protected_operations_name_the_bearer_scheme_and_document_401(service_app):
    _, app = service_app
    spec = served_spec(app)
    schemes = spec["components"]["securitySchemes"]
    assert all((scheme["type"], scheme["scheme"]) == ("http", "bearer") for scheme in schemes.values())
    protected = [(path, method, operation) for path, operations in spec["paths"].items()
                 for method, operation in operations.items() if operation.get("security")]
    assert protected
    for path, method, operation in protected:
        assert {name for requirement in operation["security"] for name in requirement} <= set(schemes), (path, method)
        assert "401" in operation["responses"], (path, method)


def test_a_real_error_response_matches_the_documented_error_shape(service_app):
    name, app = service_app
    spec = served_spec(app)
    url, path = UNAUTHENTICATED[name]
    response = app.test_client().get(url)
    assert response.status_code == 401
    documented = spec["paths"][path]["get"]["responses"]["401"]
    schema = {**documented["content"]["application/json"]["schema"], "components": spec["components"]}
    OAS30Validator(schema).validate(response.get_json())
    # and the documented shape is strict enough to refuse something else
    assert not OAS30Validator(schema).is_valid({"error": "unauthorized"})


def test_review_request_bodies_come_from_the_marshmallow_schemas(settings):
    from services.review.accounts.schemas import NewUser
    from services.review.decisions.schemas import DecisionIn

    spec = served_spec(review_app(settings))
    components = spec["components"]["schemas"]
    for component, schema in (("NewUser", NewUser), ("DecisionIn", DecisionIn)):
        assert set(components[component]["properties"]) == set(schema().fields)
    assert set(components["NewUser"]["required"]) == {"email", "password", "role"}
    body = spec["paths"]["/api/v1/users"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/NewUser"}


def test_list_filters_are_documented_as_query_parameters(settings):
    review = served_spec(review_app(settings))
    notify = served_spec(notify_app(dataclasses.replace(settings, broker_url="filesystem://")))
    names = lambda operation: {p["name"] for p in operation["parameters"] if p["in"] == "query"}  # noqa: E731
    assert names(review["paths"]["/api/v1/applications"]["get"]) == {
        "status", "department", "eligible", "duplicate", "proposed", "reviewer", "score_min", "score_max", "q", "sort",
        "page", "per_page"}
    assert names(notify["paths"]["/api/v1/notifications"]["get"]) == {"reference", "state", "page", "per_page"}
