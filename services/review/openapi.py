"""`/openapi.json`: the staff API of review, described from its marshmallow schemas."""
from services.review.accounts.schemas import NewUser, RefreshRequest, TokenRequest, UserChange, UserOut
from services.review.applications.schemas import ApplicationOut, ApplicationSummaryOut, ListArgs
from services.review.decisions.schemas import DecisionIn, DecisionOut, ReleaseIn
from shared.openapi import errors, json_content, new_spec, openapi_blueprint, path_parameter

STAFF = [{"staffToken": []}]


def _ok(description: str, schema) -> dict:
    return {"description": description, "content": json_content(schema)}


def _body(schema) -> dict:
    return {"required": True, "content": json_content(schema)}


def build_spec() -> dict:
    spec = new_spec(title="NIP review API", security_scheme="staffToken")
    for name, schema in (("TokenRequest", TokenRequest), ("RefreshRequest", RefreshRequest), ("NewUser", NewUser),
                         ("UserChange", UserChange), ("UserOut", UserOut),
                         ("ApplicationSummary", ApplicationSummaryOut),
                         ("Application", ApplicationOut), ("DecisionIn", DecisionIn), ("Decision", DecisionOut),
                         ("ReleaseIn", ReleaseIn)):
        spec.components.schema(name, schema=schema)
    spec.components.schema("TokenPair", {"type": "object", "properties": {
        "token": {"type": "string", "description": "Access token: `Authorization: Bearer <token>`"},
        "refresh_token": {"type": "string"}, "expires_in": {"type": "integer", "description": "seconds"},
        "token_type": {"type": "string", "enum": ["Bearer"]}}})
    spec.components.schema("User", {"allOf": [{"$ref": "#/components/schemas/UserOut"}, {
        "type": "object", "properties": {"locked": {"type": "boolean"}}}]})
    spec.components.schema("DeadLetter", {"type": "object", "properties": {
        "id": {"type": "integer"}, "event_id": {"type": "string"}, "event_type": {"type": "string"},
        "task": {"type": "string"}, "error": {"type": "string"}, "attempts": {"type": "integer"},
        "first_failed_at": {"type": "string", "format": "date-time"},
        "last_failed_at": {"type": "string", "format": "date-time"},
        "replayed_at": {"type": "string", "format": "date-time", "nullable": True},
        "outcome": {"type": "string", "nullable": True}}})

    def ref(name: str) -> dict:
        return {"$ref": f"#/components/schemas/{name}"}

    def page_of(name: str) -> dict:
        return {"type": "object", "properties": {"items": {"type": "array", "items": ref(name)},
                                                 "page": {"type": "integer"}, "per_page": {"type": "integer"},
                                                 "total": {"type": "integer"}}}

    reference, user_id = path_parameter("reference"), path_parameter("user_id", "integer")
    spec.path("/api/v1/auth/token", operations={"post": {
        "summary": "Sign in: an access token and a refresh token", "requestBody": _body("TokenRequest"),
        "responses": {"200": _ok("Signed in", "TokenPair"), **errors("400", "401", "429")}}})
    spec.path("/api/v1/auth/refresh", operations={"post": {
        "summary": "Trade a refresh token for a new pair (the old one stops working)",
        "requestBody": _body("RefreshRequest"),
        "responses": {"200": _ok("A new pair", "TokenPair"), **errors("400", "401")}}})
    spec.path("/api/v1/users", operations={
        "get": {"summary": "All staff accounts (admins)", "security": STAFF, "responses": {
            "200": _ok("The users", {"type": "object", "properties": {
                "items": {"type": "array", "items": ref("User")}}}), **errors("401", "403")}},
        "post": {"summary": "Create a staff account (admins)", "security": STAFF, "requestBody": _body("NewUser"),
                 "responses": {"201": _ok("Created", "UserOut"), **errors("400", "401", "403", "409")}}})
    spec.path("/api/v1/users/{user_id}", operations={"patch": {
        "summary": "Change a user's role, departments or active flag (admins)", "security": STAFF,
        "parameters": [user_id], "requestBody": _body("UserChange"),
        "responses": {"200": _ok("The user", "User"), **errors("400", "401", "403", "404", "409")}}})
    spec.path("/api/v1/users/{user_id}/unlock", operations={"post": {
        "summary": "Lift a sign-in lock-out (admins)", "security": STAFF, "parameters": [user_id],
        "responses": {"200": _ok("The user", "User"), **errors("401", "403", "404")}}})
    spec.path("/api/v1/applications", operations={"get": {
        "summary": "Applications the caller may see, filtered, 1-based pages", "security": STAFF,
        "parameters": [{"in": "query", "schema": ListArgs}],
        "responses": {"200": _ok("A page", page_of("ApplicationSummary")), **errors("400", "401", "403")}}})
    spec.path("/api/v1/applications/{reference}", operations={"get": {
        "summary": "One application with its decision", "security": STAFF, "parameters": [reference],
        "responses": {"200": _ok("The application", {"allOf": [ref("Application"), {
            "type": "object", "properties": {"decision": {"allOf": [ref("Decision")], "nullable": True}}}]}),
            **errors("401", "403", "404")}}})
    spec.path("/api/v1/applications/{reference}/decision", operations={"post": {
        "summary": "Record or change the decision (admins)", "security": STAFF, "parameters": [reference],
        "requestBody": _body("DecisionIn"),
        "responses": {"200": _ok("The decision", "Decision"), **errors("400", "401", "403", "404", "409")}}})
    spec.path("/api/v1/decisions/release", operations={"post": {
        "summary": "Release recorded decisions to candidates (admins)", "security": STAFF,
        "requestBody": _body("ReleaseIn"),
        "responses": {"200": _ok("What was released and what was skipped", {"type": "object", "properties": {
            "released": {"type": "array", "items": {}}, "skipped": {"type": "array", "items": {}}}}),
            **errors("400", "401", "403")}}})
    spec.path("/api/v1/dead-letters", operations={"get": {
        "summary": "Events the consumer gave up on (admins)", "security": STAFF,
        "parameters": [{"name": "include", "in": "query", "schema": {"type": "string", "enum": ["open", "all"],
                                                                      "default": "open"}}],
        "responses": {"200": _ok("The dead letters", {"type": "object", "properties": {
            "items": {"type": "array", "items": ref("DeadLetter")}, "count": {"type": "integer"}}}),
            **errors("400", "401", "403")}}})
    return spec.to_dict()


bp = openapi_blueprint(build_spec)
