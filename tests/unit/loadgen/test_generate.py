"""Synthetic applications are what they claim to be, judged by intake's own schema, rules and inspection."""
from __future__ import annotations

import random
from datetime import date

import pytest

from loadgen import make_application
from loadgen.client import plan_run
from loadgen.data import ascii_slug
from loadgen.documents import DOCX, PDF
from loadgen.generate import plan_application
from services.intake.applications.eligibility import assess
from services.intake.applications.schemas import ApplicationSchema
from services.intake.documents.inspect import inspect_document
from services.intake.programme.defaults import NIP_2027

DEADLINE = date(2027, 1, 31)
PROGRAMME = {**NIP_2027, "deadline": "2027-01-31T23:59:00+01:00"}
RULES = {rule["kind"]: rule for rule in NIP_2027["documents"]}
SEEDS = range(40)


def problems_of(payload: dict) -> list[str]:
    loaded = ApplicationSchema().load(payload)  # raises if intake's schema would refuse it
    return [p.code for p in assess(applicant=loaded, rules=NIP_2027["rules"], deadline=DEADLINE)]


def motivation_in_range(payload: dict) -> bool:
    low, high = NIP_2027["rules"]["motivation_words"]
    return low <= len(payload["motivation"].split()) <= high


@pytest.mark.parametrize("seed", SEEDS)
def test_an_eligible_application_meets_every_rule_and_is_complete(seed):
    payload, files = make_application(random.Random(seed), kind="eligible", programme=PROGRAMME, doc_size=20_000)

    assert problems_of(payload) == []
    assert motivation_in_range(payload)
    assert {"cv", "academic_proof"} <= set(files)


@pytest.mark.parametrize("seed", SEEDS)
def test_an_ineligible_application_breaks_a_rule_but_is_complete(seed):
    payload, files = make_application(random.Random(seed), kind="ineligible", programme=PROGRAMME, doc_size=20_000)

    assert problems_of(payload) != []
    assert motivation_in_range(payload) and {"cv", "academic_proof"} <= set(files)


@pytest.mark.parametrize("seed", SEEDS)
def test_an_incomplete_application_lacks_a_document_or_a_fitting_motivation(seed):
    payload, files = make_application(random.Random(seed), kind="incomplete", programme=PROGRAMME, doc_size=20_000)

    assert problems_of(payload) == []
    assert not motivation_in_range(payload) or not {"cv", "academic_proof"} <= set(files)


def test_every_kind_of_ineligibility_and_incompleteness_is_generated():
    reasons = {plan_application(random.Random(seed), kind=kind, programme=PROGRAMME).reason
               for seed in range(200) for kind in ("ineligible", "incomplete")}
    assert reasons == {"nationality_not_eligible", "too_young", "insufficient_study", "degree_too_old",
                       "language_level_insufficient", "motivation_too_short", "motivation_too_long",
                       "missing_academic_proof", "missing_cv"}


@pytest.mark.parametrize("seed", range(12))
def test_generated_documents_pass_intakes_content_inspection(seed):
    _, files = make_application(random.Random(seed), kind="eligible", doc_size=40_000)

    for kind, (filename, data, content_type) in files.items():
        inspected = inspect_document(data, rule=RULES[kind])
        assert inspected.media_type == content_type
        assert filename.endswith(".pdf" if content_type == PDF else ".docx")


def test_both_cv_formats_and_real_sizes_are_generated():
    cvs = [make_application(random.Random(seed), doc_size=80_000)[1]["cv"] for seed in range(20)]

    assert {content_type for _, _, content_type in cvs} == {PDF, DOCX}
    assert all(60_000 <= len(data) <= 110_000 for _, data, _ in cvs)


def test_documents_are_unique_per_applicant():
    first = make_application(random.Random(1), doc_size=20_000)[1]["academic_proof"][1]
    second = make_application(random.Random(2), doc_size=20_000)[1]["academic_proof"][1]
    assert first != second


def test_a_run_plans_distinct_people_in_the_chosen_shares():
    plans = plan_run(count=200, ineligible_share=0.25, incomplete_share=0.1, seed=4, programme=PROGRAMME,
                     nonce="abc")

    kinds = [plan.kind for plan in plans]
    assert (kinds.count("ineligible"), kinds.count("incomplete"), kinds.count("eligible")) == (50, 20, 130)
    assert len({plan.payload["email"].lower() for plan in plans}) == 200
    people = {(p.payload["given_name"], p.payload["family_name"], p.payload["date_of_birth"]) for p in plans}
    assert len(people) == 200
    assert {plan.payload["correspondence_language"] for plan in plans} == {"en", "fr"}
    assert {plan.payload["session"] for plan in plans} == {"march", "september"}
    assert {plan.payload["education"]["status"] for plan in plans} == {"enrolled", "graduated"}
    assert any(not plan.payload["family_name"].isascii() for plan in plans)


def test_the_same_seed_plans_the_same_people_and_another_seed_does_not():
    def names(seed):
        return [p.payload["family_name"] for p in plan_run(count=20, ineligible_share=0.1, incomplete_share=0.1,
                                                            seed=seed, programme=PROGRAMME, nonce="n")]
    assert names(1) == names(1) != names(2)


@pytest.mark.parametrize("name, slug", [("Zoë", "zoe"), ("Łukasz", "lukasz"), ("Ørjan", "orjan"),
                                        ("Ó Súilleabháin", "o-suilleabhain"), ("Αλέξανδρος", "applicant")])
def test_emails_are_ascii_renderings_of_accented_names(name, slug):
    assert ascii_slug(name) == slug
