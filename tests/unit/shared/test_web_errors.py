"""A database connection cut mid-request is a 503 the client retries, whatever the driver calls it; any other
database error is a 500 (a bug), never disguised as a passing outage."""
import pytest
from flask import Flask
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError, ProgrammingError

from shared.web import register_error_handlers


class Cut(Exception):
    pass


@pytest.fixture
def client():
    app = Flask(__name__)
    register_error_handlers(app)
    raised = {
        "operational": OperationalError("SELECT 1", {}, Cut("terminating connection due to administrator command")),
        "interface": InterfaceError("SELECT 1", {}, Cut("connection already closed")),
        "invalidated": ProgrammingError("SELECT 1", {}, Cut("the connection is lost"), connection_invalidated=True),
        "integrity": IntegrityError("INSERT", {}, Cut("duplicate key value")),
    }

    @app.get("/<kind>")
    def fail(kind):
        raise raised[kind]

    return app.test_client()


@pytest.mark.parametrize("kind", ["operational", "interface", "invalidated"])
def test_a_cut_connection_is_a_503_to_retry(client, kind):
    response = client.get(f"/{kind}")
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "database_unavailable"
    assert response.headers["Retry-After"] == "1"


def test_another_database_error_is_a_500(client):
    response = client.get("/integrity")
    assert response.status_code == 500
    assert response.get_json()["error"]["code"] == "internal_error"
