import pytest
from marshmallow import ValidationError

from services.intake.applications.schemas import ApplicationSchema
from tests.factories import application_payload


def errors(**overrides):
    with pytest.raises(ValidationError) as info:
        ApplicationSchema().load(application_payload(**overrides))
    return info.value.messages


def test_valid_payload_loads_with_names_tidied():
    loaded = ApplicationSchema().load(application_payload(given_name="  Ana   Maria "))
    assert loaded["given_name"] == "Ana Maria"


@pytest.mark.parametrize("field, value", [
    ("email", "not-an-email"), ("date_of_birth", "17/05/2002"), ("date_of_birth", "2999-01-01"),
    ("nationality", "ZZ"), ("nationality", "ROU"), ("languages", {"de": "C1"}), ("languages", {"en": "B3"}),
    ("languages", {}), ("departments", []), ("departments", ["polsci", "polsci"]), ("departments", ["navy"]),
    ("departments", ["polsci", "comms", "it", "hr"]), ("session", "june"), ("correspondence_language", "de"),
    ("consent", False), ("given_name", "   "),
])
def test_invalid_field_is_named(field, value):
    assert field in errors(**{field: value})


def test_unknown_fields_are_refused():
    assert "shoe_size" in errors(shoe_size=42)


def test_education_details_follow_status():
    messages = errors(education={"institution": "KU Leuven", "degree_level": "master",
                                 "field_of_study": "Law", "status": "graduated"})
    assert "graduation_date" in messages["education"]
