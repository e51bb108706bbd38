"""One synthetic application: the `application` JSON and its file parts, of a chosen kind."""
from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from loadgen import data
from loadgen.documents import DEFAULT_SIZE, DOCX, PDF, make_docx, make_pdf
from services.intake.programme.defaults import NIP_2027

KINDS = ("eligible", "ineligible", "incomplete")
CEFR = ("A1", "A2", "B1", "B2", "C1", "C2")
PROGRAMME_TZ = ZoneInfo("Europe/Brussels")
INELIGIBLE_REASONS = ("nationality_not_eligible", "too_young", "insufficient_study", "degree_too_old",
                      "language_level_insufficient")
# Intake judges completeness of the form at the door (motivation length, required documents), so an
# incomplete application is refused with one of these codes rather than stored as `incomplete`.
INCOMPLETE_DEFECTS = ("motivation_too_short", "motivation_too_long", "missing_academic_proof", "missing_cv")
INCOMPLETE_CODES = frozenset({"invalid_fields", "invalid_documents"})

Files = dict[str, tuple[str, bytes, str]]


@dataclass(frozen=True)
class Plan:
    """What to send, before the documents are made (documents are the costly part)."""

    kind: str
    reason: str | None  # the ineligibility reason or completeness defect
    payload: dict
    files_seed: int


def programme_deadline(programme: dict | None) -> date:
    """The day eligibility is judged on, in the programme's time zone."""
    if not programme or not programme.get("deadline"):
        return data.DEFAULT_DEADLINE
    return datetime.fromisoformat(programme["deadline"]).astimezone(PROGRAMME_TZ).date()


def plan_application(rng: random.Random, *, kind: str = "eligible", programme: dict | None = None,
                     email_tag: str | None = None) -> Plan:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}")
    programme = programme or NIP_2027
    rules = programme["rules"]
    deadline = programme_deadline(programme if "deadline" in programme else None)
    today = date.today()
    reason = None
    if kind == "ineligible":
        reason = rng.choice(INELIGIBLE_REASONS)
    elif kind == "incomplete":
        reason = rng.choice(INCOMPLETE_DEFECTS)

    given, family = rng.choice(data.GIVEN_NAMES), rng.choice(data.FAMILY_NAMES)
    if rng.random() < 0.15:
        given = f"{given} {rng.choice(data.GIVEN_NAMES)}"
    min_age = rules["min_age"]
    if reason == "too_young":
        born = data.between(rng, data.years_before(deadline, min_age) + timedelta(days=15),
                            data.years_before(deadline, min_age - 3))
    else:
        born = data.between(rng, data.years_before(deadline, min_age + 9),
                            data.years_before(deadline, min_age) - timedelta(days=30))
    born = min(born, today)

    nationality = rng.choice(data.NON_NATO if reason == "nationality_not_eligible" else rules["nationalities"])

    floor = CEFR.index(rules["min_language_level"])
    if reason == "language_level_insufficient":
        languages = {lang: rng.choice(CEFR[:floor]) for lang in rng.choice((["en"], ["fr"], ["en", "fr"]))}
    else:
        main, other = rng.choice((("en", "fr"), ("fr", "en")))
        languages = {main: rng.choice(CEFR[floor:])}
        if rng.random() < 0.7:
            languages[other] = rng.choice(CEFR)

    departments = rng.sample([d["code"] for d in programme["departments"]], k=rng.randint(1, 3))
    field = rng.choice(data.FIELDS.get(departments[0], data.FIELDS["polsci"]))
    education = {"institution": rng.choice(data.INSTITUTIONS), "field_of_study": field}
    enrolled = reason == "insufficient_study" or (reason != "degree_too_old" and rng.random() < 0.6)
    if enrolled:
        year = (rng.randint(1, rules["min_years_completed"]) if reason == "insufficient_study"
                else rng.randint(rules["min_years_completed"] + 1, 6))
        education.update(status="enrolled", year_of_study=year, degree_level="bachelor" if year <= 3 else "master")
    else:
        if reason == "degree_too_old":
            graduated = data.between(rng, deadline - timedelta(days=3 * 365), deadline - timedelta(days=400))
        else:
            months = rules["max_months_since_graduation"]
            graduated = data.between(rng, deadline - timedelta(days=int(months * 30.4) - 35), min(today, deadline))
        education.update(status="graduated", graduation_date=graduated.isoformat(),
                         degree_level=rng.choice(("bachelor", "master", "master", "doctorate")))

    correspondence = rng.choice(("en", "en", "fr"))
    low, high = rules["motivation_words"]
    if reason == "motivation_too_short":
        words = rng.randint(max(1, low // 4), low - 5)
        text = " ".join(data.motivation(rng, correspondence, words).split()[:words])
    elif reason == "motivation_too_long":
        text = data.motivation(rng, correspondence, high + 20)
    else:
        text = data.motivation(rng, correspondence, rng.randint(low + 10, min(high - 40, low + 250)))

    tag = email_tag or f"{rng.getrandbits(32):08x}"
    local = f"{data.ascii_slug(given)}.{data.ascii_slug(family)}"[: 62 - len(tag)] + f".{tag}"
    email = f"{local}@{rng.choice(('example.org', 'example.com', 'example.net'))}"
    payload = {
        "given_name": given, "family_name": family, "email": email, "date_of_birth": born.isoformat(),
        "nationality": nationality, "languages": languages, "education": education, "departments": departments,
        "session": rng.choice(programme["sessions"]), "motivation": text,
        "correspondence_language": correspondence, "consent": True,
    }
    return Plan(kind, reason, payload, rng.getrandbits(32))


def make_files(plan: Plan, *, doc_size: int = DEFAULT_SIZE, cv_docx_share: float = 0.3) -> Files:
    """The file parts for `plan`: a CV (PDF or DOCX), a proof of studies, sometimes a language certificate."""
    rng = random.Random(plan.files_seed)
    payload = plan.payload
    author = f"{payload['given_name']} {payload['family_name']}"
    files: Files = {}
    if plan.reason != "missing_cv":
        if rng.random() < cv_docx_share:
            lines = [payload["education"]["institution"], payload["education"]["field_of_study"],
                     *payload["motivation"].split(". ")[:5]]
            files["cv"] = (f"CV {author}.docx", make_docx("Curriculum vitae", author=author, lines=lines,
                                                          size=doc_size), DOCX)
        else:
            files["cv"] = (f"CV {author}.pdf", make_pdf("Curriculum vitae", author=author, size=doc_size), PDF)
    if plan.reason != "missing_academic_proof":
        title = "Certificate of enrolment" if payload["education"]["status"] == "enrolled" else "Diploma"
        files["academic_proof"] = (f"{title}.pdf", make_pdf(title, author=author, size=doc_size), PDF)
    if rng.random() < 0.3:
        files["language_certificate"] = ("language-certificate.pdf",
                                         make_pdf("Language certificate", author=author, size=doc_size // 2), PDF)
    return files


def make_application(rng: random.Random, *, kind: str = "eligible", programme: dict | None = None,
                     doc_size: int = DEFAULT_SIZE, email_tag: str | None = None) -> tuple[dict, Files]:
    """The `application` JSON and the file parts {"cv": (filename, bytes, content_type), ...} of one applicant.

    `programme` is intake's GET /api/v1/programme answer (its deadline and rules); the NIP 2027 defaults otherwise.
    """
    plan = plan_application(rng, kind=kind, programme=programme, email_tag=email_tag)
    return plan.payload, make_files(plan, doc_size=doc_size)
