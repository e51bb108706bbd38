"""`/openapi.json`: the staff API of review, described from its marshmallow schemas."""
from services.review.accounts.schemas import (NewUser, RefreshRequest, TokenRequest, UserChange, UserChangedOut, UserOut,
                                              UserStatusOut)
from services.review.applications.schemas import ApplicationDetailOut, ApplicationOut, ApplicationSummaryOut, ListArgs
from services.review.decisions.schemas import DecisionIn, DecisionOut, ReleaseIn
from services.review.privacy.openapi import add_paths as add_privacy_paths
from shared.bounds import id_path_parameter
from shared.openapi import ERROR_RESPONSE, errors, json_content, new_spec, openapi_blueprint, path_parameter

STAFF: list[dict[str, list[str]]] = [{"staffToken": []}]
# the sign-in calls: a per-address limit (Flask-Limiter) and throttling per (account, source), both 429
RATE_LIMITED = ("/api/v1/auth/token", "/api/v1/auth/refresh")
# the list's query as a form sends it: an empty parameter means no filter (applications.schemas.clean_args)
EMPTY_MEANS_NO_FILTER = ("/api/v1/applications", "/api/v1/applications.csv", "/api/v1/decisions/releasable",
                         "/api/v1/audit")


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
    spec.components.schema("User", schema=UserStatusOut)
    spec.components.schema("UserChanged", schema=UserChangedOut)
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
                                                 "total": {"type": "integer"}, "pages": {"type": "integer"},
                                                 "counts": {"type": "object", "description": "per status, "
                                                            "every filter but the status applied",
                                                            "additionalProperties": {"type": "integer"}}}}

    reference, user_id = path_parameter("reference"), id_path_parameter("user_id")
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
        "responses": {"200": _ok("The user, and what became of their open assignments", "UserChanged"),
            **errors("400", "401", "403", "404", "409")}}})
    spec.path("/api/v1/users/{user_id}/unlock", operations={"post": {
        "summary": "Forget an account's failed sign-ins from every source, ending its throttling (admins)", "security": STAFF, "parameters": [user_id],
        "responses": {"200": _ok("The user", "User"), **errors("401", "403", "404")}}})
    spec.path("/api/v1/applications", operations={"get": {
        "summary": "Applications the caller may see, filtered, 1-based pages", "security": STAFF,
        "parameters": [{"in": "query", "schema": ListArgs}],
        "responses": {"200": _ok("A page", page_of("ApplicationSummary")), **errors("400", "401", "403")}}})
    spec.path("/api/v1/applications/{reference}", operations={"get": {
        "summary": "One application with its decision", "security": STAFF, "parameters": [reference],
        "responses": {"200": _ok("The application, its decision and (not to reviewers) the open proposal",
                                 "ApplicationDetail"),
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
    _review_paths(spec, ref, reference)
    _workbench_paths(spec, ref)
    _proposal_paths(spec, reference)
    add_privacy_paths(spec)
    spec.components.schema("ApplicationDetail", schema=ApplicationDetailOut)
    return add_links(complete_responses(spec.to_dict()))


def _review_paths(spec, ref, reference) -> None:
    """The rubric, the queue, reviews, assignments and review settings (services/review/reviews)."""
    from services.review.reviews.schemas import (AssignmentIn, AssignmentOut, CriterionOut, QueueItemOut, ReviewIn,
                                                 ReviewOut, SettingsIn, SettingsOut)

    for name, schema in (("Criterion", CriterionOut), ("QueueItem", QueueItemOut), ("ReviewIn", ReviewIn),
                         ("Review", ReviewOut), ("AssignmentIn", AssignmentIn), ("Assignment", AssignmentOut),
                         ("ReviewSettingsIn", SettingsIn), ("ReviewSettings", SettingsOut)):
        spec.components.schema(name, schema=schema)
    spec.path("/api/v1/rubric", operations={"get": {
        "summary": "The scoring criteria", "security": STAFF,
        "responses": {"200": _ok("The rubric", {"type": "array", "items": ref("Criterion")}), **errors("401")}}})
    spec.path("/api/v1/queue", operations={"get": {
        "summary": "The caller's queue: assigned, under review, not yet scored, oldest first", "security": STAFF,
        "responses": {"200": _ok("The queue", {"type": "object", "properties": {
            "items": {"type": "array", "items": ref("QueueItem")}}}), **errors("401")}}})
    score = {"reference": {"type": "string"}, "score": {"type": "number", "nullable": True},
             "score_spread": {"type": "number", "nullable": True}, "reviews_done": {"type": "integer"},
             "reviews_assigned": {"type": "integer"}}
    spec.path("/api/v1/applications/{reference}/reviews", operations={
        "get": {"summary": "The reviews the caller may read (a reviewer: only after their own is in)",
                "security": STAFF, "parameters": [reference],
                "responses": {"200": _ok("Score and reviews", {"type": "object", "properties": {
                    **score, "others_hidden": {"type": "boolean"},
                    "reviews": {"type": "array", "items": ref("Review")}}}), **errors("401", "404")}},
        "post": {"summary": "Record or revise the caller's review (assigned reviewers, until release)",
                 "security": STAFF, "parameters": [reference], "requestBody": _body("ReviewIn"),
                 "responses": {"200": _ok("Revised", "Review"), "201": _ok("Recorded", "Review"),
                               **errors("401", "403", "404", "409", "422")}}})
    spec.path("/api/v1/applications/{reference}/assignments", operations={
        "get": {"summary": "The application's reviewers (its coordinators and admins)", "security": STAFF,
                "parameters": [reference],
                "responses": {"200": _ok("The assignments", {"type": "object", "properties": {
                    "items": {"type": "array", "items": ref("Assignment")}}}), **errors("401", "403", "404")}},
        "post": {"summary": "Assign a reviewer, optionally in place of one who has not scored",
                 "security": STAFF, "parameters": [reference], "requestBody": _body("AssignmentIn"),
                 "responses": {"201": _ok("Assigned", "Assignment"),
                               **errors("401", "403", "404", "409", "422")}}})
    spec.path("/api/v1/review-settings", operations={
        "get": {"summary": "Reviewers per application and the blind round (admins)", "security": STAFF,
                "responses": {"200": _ok("The settings", "ReviewSettings"), **errors("401", "403")}},
        "put": {"summary": "Change the review settings (admins)", "security": STAFF,
                "requestBody": _body("ReviewSettingsIn"),
                "responses": {"200": _ok("The settings", "ReviewSettings"), **errors("401", "403", "422")}}})


def _workbench_paths(spec, ref) -> None:
    """Bulk decisions, what a release would send, the CSV export and the audit log."""
    from services.review.audit.schemas import AuditArgs, AuditEntryOut
    from services.review.decisions.schemas import BulkDecisionIn, BulkResultOut, ReleasableOut
    from services.review.decisions.views import RELEASE_FILTERS
    from services.review.reports.views import EXPORT_FILTERS

    for name, schema in (("BulkDecisionIn", BulkDecisionIn), ("BulkResult", BulkResultOut),
                         ("Releasable", ReleasableOut), ("AuditEntry", AuditEntryOut)):
        spec.components.schema(name, schema=schema)
    spec.path("/api/v1/decisions/bulk", operations={"post": {
        "summary": "Record one decision with a reason for many applications (admins); a result per reference",
        "security": STAFF, "requestBody": _body("BulkDecisionIn"),
        "responses": {"200": _ok("Each reference recorded or why not", {"type": "object", "properties": {
            "results": {"type": "array", "items": ref("BulkResult")}, "recorded": {"type": "integer"}}}),
            **errors("401", "403", "422")}}})
    spec.path("/api/v1/decisions/releasable", operations={"get": {
        "summary": "What releasing the list filtered so would send: how many candidates, in which languages "
                   "(admins); post its items' reference and version to /api/v1/decisions/release",
        "security": STAFF, "parameters": [{"in": "query", "schema": ListArgs(only=RELEASE_FILTERS)}],
        "responses": {"200": _ok("The recorded decisions waiting for release", "Releasable"),
                      **errors("401", "403", "422")}}})
    spec.path("/api/v1/applications.csv", operations={"get": {
        "summary": "The list with the same filters and order, as a streamed CSV (audited)", "security": STAFF,
        "parameters": [{"in": "query", "schema": ListArgs(only=EXPORT_FILTERS)}],
        "responses": {"200": {"description": "CSV, one line per application",
                              "content": {"text/csv": {"schema": {"type": "string"}}}},
                      **errors("401", "422")}}})
    spec.path("/api/v1/audit", operations={"get": {
        "summary": "The audit log, newest first, 100 a page (admins)", "security": STAFF,
        "parameters": [{"in": "query", "schema": AuditArgs}],
        "responses": {"200": _ok("A page", {"type": "object", "properties": {
            "items": {"type": "array", "items": ref("AuditEntry")}, "page": {"type": "integer"},
            "per_page": {"type": "integer"}, "total": {"type": "integer"}}}), **errors("401", "403", "422")}}})


def _proposal_paths(spec, reference) -> None:
    """Coordinators propose decisions; admins accept them in one call (or record another decision)."""
    from services.review.decisions.schemas import AcceptProposalIn, ProposalIn, ProposalOut

    for name, schema in (("ProposalIn", ProposalIn), ("Proposal", ProposalOut), ("AcceptProposalIn", AcceptProposalIn)):
        spec.components.schema(name, schema=schema)
    spec.path("/api/v1/applications/{reference}/proposal", operations={"post": {
        "summary": "Propose or revise a decision (coordinators of the application's departments); an admin decides",
        "security": STAFF, "parameters": [reference], "requestBody": _body("ProposalIn"),
        "responses": {"200": _ok("The proposal", "Proposal"), **errors("401", "403", "404", "409", "422")}}})
    spec.path("/api/v1/applications/{reference}/proposal/accept", operations={"post": {
        "summary": "Record the open proposal as the decision (admins); with `version`, only the one seen",
        "security": STAFF, "parameters": [reference],
        "requestBody": {"required": False, "content": json_content("AcceptProposalIn")},
        "responses": {"200": _ok("The decision", "Decision"), **errors("401", "403", "404", "409", "422")}}})


def complete_responses(spec: dict) -> dict:
    """Add the answers every route can give through the shared handlers (shared/web.py), so none is missing.

    400: a NUL character in a parameter or the body; 401: no valid bearer token on a staff route; 404: a path
    whose id is out of range (shared/bounds.py) or whose reference is not the caller's; 422: fields that do
    not load; 429: the sign-in limits; 503: the database connection cut mid-request (safe to retry).
    """
    for path, operations in spec["paths"].items():
        for operation in operations.values():
            codes = {"503"}
            parameters = operation.get("parameters", [])
            if parameters or "requestBody" in operation:
                codes |= {"400", "422"}
            if operation.get("security"):
                codes.add("401")
            if any(p["in"] == "path" for p in parameters):
                codes.add("404")
            if path in RATE_LIMITED:
                codes.add("429")
            for code in sorted(codes):
                operation["responses"].setdefault(code, ERROR_RESPONSE)
            if path in EMPTY_MEANS_NO_FILTER:
                for parameter in parameters:
                    if parameter["in"] == "query":
                        parameter["allowEmptyValue"] = True
    return spec


# every operation by its id, which the links below (and clients' generators) name
OPERATION_IDS = {
    ("post", "/api/v1/auth/token"): "signIn", ("post", "/api/v1/auth/refresh"): "refreshToken",
    ("get", "/api/v1/users"): "listUsers", ("post", "/api/v1/users"): "createUser",
    ("patch", "/api/v1/users/{user_id}"): "changeUser", ("post", "/api/v1/users/{user_id}/unlock"): "unlockUser",
    ("get", "/api/v1/applications"): "listApplications", ("get", "/api/v1/applications/{reference}"): "getApplication",
    ("post", "/api/v1/applications/{reference}/decision"): "recordDecision",
    ("post", "/api/v1/decisions/release"): "releaseDecisions", ("get", "/api/v1/dead-letters"): "listDeadLetters",
    ("get", "/api/v1/rubric"): "getRubric", ("get", "/api/v1/queue"): "getQueue",
    ("get", "/api/v1/applications/{reference}/reviews"): "listReviews",
    ("post", "/api/v1/applications/{reference}/reviews"): "recordReview",
    ("get", "/api/v1/applications/{reference}/assignments"): "listAssignments",
    ("post", "/api/v1/applications/{reference}/assignments"): "assignReviewer",
    ("get", "/api/v1/review-settings"): "getReviewSettings", ("put", "/api/v1/review-settings"): "changeReviewSettings",
    ("post", "/api/v1/decisions/bulk"): "recordDecisions", ("get", "/api/v1/decisions/releasable"): "getReleasable",
    ("get", "/api/v1/applications.csv"): "exportApplicationList", ("get", "/api/v1/audit"): "listAudit",
    ("post", "/api/v1/applications/{reference}/proposal"): "proposeDecision",
    ("post", "/api/v1/applications/{reference}/proposal/accept"): "acceptProposal",
    ("post", "/api/v1/applications/{reference}/erase"): "eraseApplication",
    ("get", "/api/v1/applications/{reference}/export"): "exportApplication",
    ("get", "/api/v1/statistics"): "getStatistics",
}
# the operations behind an application's reference: the application, its reviews, assignments, decision,
# proposal and dossier (export, erasure)
BEHIND_A_REFERENCE = ("getApplication", "listReviews", "recordReview", "listAssignments", "assignReviewer",
                      "recordDecision", "proposeDecision", "acceptProposal", "exportApplication", "eraseApplication")
BEHIND_A_USER = ("changeUser", "unlockUser")


def _to(operations: tuple[str, ...], parameter: str, expression: str, why: str) -> dict:
    return {f"{operation[0].upper()}{operation[1:]}": {
        "operationId": operation, "parameters": {parameter: expression}, "description": why}
        for operation in operations}


# (operation, status) -> its links: OpenAPI links from an answer to the calls its ids and references open, which
# a client can follow and schemathesis' stateful phase does (tests/contract/test_review_api.py)
LINKS = {
    ("listApplications", "200"): _to(BEHIND_A_REFERENCE, "reference", "$response.body#/items/0/reference",
                                     "The first application of the page"),
    ("getApplication", "200"): _to(BEHIND_A_REFERENCE[1:], "reference", "$response.body#/reference",
                                   "This application"),
    ("getQueue", "200"): _to(("getApplication", "listReviews", "recordReview"), "reference",
                             "$response.body#/items/0/reference", "The first application of the caller's queue"),
    ("listReviews", "200"): _to(("recordReview", "getApplication"), "reference", "$response.body#/reference",
                                "This application"),
    ("recordReview", "200"): _to(("listReviews", "getApplication"), "reference", "$request.path.reference",
                                 "The application reviewed"),
    ("recordReview", "201"): _to(("listReviews", "getApplication"), "reference", "$request.path.reference",
                                 "The application reviewed"),
    ("listAssignments", "200"): _to(("assignReviewer", "listReviews"), "reference", "$request.path.reference",
                                    "This application"),
    ("assignReviewer", "201"): _to(("listAssignments", "listReviews"), "reference", "$request.path.reference",
                                   "The application assigned"),
    ("recordDecision", "200"): _to(("getApplication", "proposeDecision"), "reference", "$response.body#/reference",
                                   "The application decided"),
    ("proposeDecision", "200"): {
        **_to(("getApplication",), "reference", "$response.body#/reference", "The application"),
        "AcceptProposal": {"operationId": "acceptProposal", "parameters": {"reference": "$response.body#/reference"},
                           "requestBody": {"version": "$response.body#/version"},
                           "description": "Accept this proposal, at the version proposed"}},
    ("acceptProposal", "200"): _to(("getApplication",), "reference", "$response.body#/reference",
                                   "The application decided"),
    ("recordDecisions", "200"): _to(("getApplication",), "reference", "$response.body#/results/0/reference",
                                    "The first application of the bulk decision"),
    ("getReleasable", "200"): _to(("getApplication",), "reference", "$response.body#/items/0/reference",
                                  "The first decision waiting for release"),
    ("listUsers", "200"): _to(BEHIND_A_USER, "user_id", "$response.body#/items/0/id", "The first user"),
    ("createUser", "201"): _to(BEHIND_A_USER, "user_id", "$response.body#/id", "The user created"),
    ("changeUser", "200"): _to(("unlockUser",), "user_id", "$response.body#/id", "The user changed"),
    ("unlockUser", "200"): _to(("changeUser",), "user_id", "$response.body#/id", "The user unlocked"),
}


def add_links(spec: dict) -> dict:
    """Name every operation (`operationId`) and link the answers that carry an id or a reference to its routes."""
    responses = {}
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            operation["operationId"] = OPERATION_IDS[method, path]
            responses[operation["operationId"]] = operation["responses"]
    for (operation_id, status), links in LINKS.items():
        # a copy: `complete_responses` shares one error answer, and a success answer must not carry another's links
        responses[operation_id][status] = {**responses[operation_id][status], "links": links}
    return spec


bp = openapi_blueprint(build_spec)
