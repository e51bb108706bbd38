"""Whatever an applicant sends, intake answers with a 2xx or a 4xx JSON error, never a 5xx."""
import json

from hypothesis import HealthCheck, given, settings, strategies as st

from tests.factories import application_payload, multipart

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=10,
)
FIELDS = list(application_payload())


@st.composite
def mangled_payloads(draw):
    payload = application_payload(email=f"{draw(st.uuids())}@example.org")
    for field in draw(st.lists(st.sampled_from(FIELDS), max_size=4, unique=True)):
        if draw(st.booleans()):
            payload[field] = draw(json_values)
        else:
            payload.pop(field)
    return payload


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(payload=mangled_payloads())
def test_mangled_application_never_causes_a_server_error(client, pdf, proof, payload):
    response = client.post("/api/v1/applications", data=multipart(payload, cv=pdf, academic_proof=proof),
                           content_type="multipart/form-data")
    assert response.status_code < 500, response.get_data(as_text=True)
    if response.status_code >= 400:
        assert set(response.get_json()["error"]) == {"code", "message", "fields"}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.text(max_size=200) | json_values.map(json.dumps), cv=st.binary(max_size=2048))
def test_garbage_parts_never_cause_a_server_error(client, proof, raw, cv):
    data = multipart(cv=cv, academic_proof=proof)
    data["application"] = raw
    response = client.post("/api/v1/applications", data=data, content_type="multipart/form-data")
    assert 400 <= response.status_code < 500, response.get_data(as_text=True)
