"""The applicants' words for intake's codes: statuses, choices, documents, problems, form errors, countries."""
from __future__ import annotations

import gettext
import unicodedata
from functools import lru_cache

import pycountry
from flask_babel import format_date, format_decimal, gettext as _, lazy_gettext as _l, ngettext

STATUSES = {
    "draft": _l("draft"), "submitted": _l("received"), "checking": _l("being checked"),
    "under_review": _l("under review"), "incomplete": _l("incomplete: documents needed"),
    "ineligible": _l("not eligible"), "shortlisted": _l("shortlisted"), "reserve": _l("on the reserve list"),
    "rejected": _l("not selected"), "withdrawn": _l("withdrawn"),
}

DEGREE_LEVELS = {"bachelor": _l("Bachelor's degree"), "master": _l("Master's degree"),
                 "doctorate": _l("Doctorate (PhD)"), "other": _l("Other degree")}
EDUCATION_STATUSES = {"enrolled": _l("I am still studying"), "graduated": _l("I have graduated")}
SESSIONS = {"march": _l("March session"), "september": _l("September session")}
# the Council of Europe's names for the six CEFR levels
CEFR_LEVELS = {"A1": _l("A1 – beginner"), "A2": _l("A2 – elementary"), "B1": _l("B1 – intermediate"),
               "B2": _l("B2 – upper intermediate"), "C1": _l("C1 – advanced"), "C2": _l("C2 – proficient")}
DOCUMENTS = {"cv": _l("Curriculum vitae"), "academic_proof": _l("Proof of studies or degree"),
             "language_certificate": _l("Language certificate")}
MEDIA_TYPES = {"application/pdf": "PDF",
               "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "DOCX"}
EXTENSIONS = {"application/pdf": ".pdf",
              "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ".docx"}

# what the applicant must do about a field the schema refused, whatever marshmallow's own wording
FIELD_ERRORS = {
    "given_name": _l("Enter your given name (up to 100 characters)."),
    "family_name": _l("Enter your family name (up to 100 characters)."),
    "email": _l("Enter an email address, like name@example.org."),
    "date_of_birth": _l("Enter your real date of birth."),
    "nationality": _l("Choose your nationality from the list of countries."),
    "languages": _l("Give your level in English or French (or both)."),
    "education.institution": _l("Enter the name of your university or school."),
    "education.degree_level": _l("Choose the level of your degree."),
    "education.field_of_study": _l("Enter your field of study."),
    "education.status": _l("Say whether you are still studying or have graduated."),
    "education.year_of_study": _l("Enter your year of study in your current degree (1 to 10) if you are still "
                                  "studying."),
    "education.graduation_date": _l("Enter the date of your degree if you have graduated."),
    "departments": _l("Choose at least one department, each at most once."),
    "session": _l("Choose a session."),
    "motivation": _l("Write your motivation statement."),
    "correspondence_language": _l("Choose the language we write to you in."),
    "consent": _l("Tick the box to agree, or we cannot consider your application."),
}
FIELD_ERROR_FALLBACK = _l("Check this answer.")

# why a document was refused, by the inspector's reason code
DOCUMENT_REFUSALS = {
    "document_empty": _l("The file is empty."),
    "document_too_large": _l("The file is too large."),
    "unsupported_media_type": _l("This type of file is not accepted here."),
    "document_data_before_header": _l("The file has other content before the PDF starts; save or export it "
                                      "again as a plain PDF."),
    "document_encrypted": _l("The file is protected by a password; upload it without protection."),
    "document_active_content": _l("The file contains scripts, macros, actions or media; upload a plain document "
                                  "(for example, print it to a new PDF)."),
    "document_embedded_files": _l("The file carries attached files; upload it without attachments."),
    "document_expands_too_much": _l("The file is too large once opened; export it again with compressed images."),
    "document_archive_bomb": _l("The file is too large once opened; save it again from your word processor."),
    "document_too_complex": _l("The file is too complex to process; export it again or print it to a new PDF."),
    "document_unreadable": _l("The file cannot be read; save or export it again."),
    "document_too_many_pages": _l("The file has too many pages."),
    "document_external_content": _l("The file links to content elsewhere; save it again without links to "
                                    "other files."),
}
DOCUMENT_MISSING = _l("Attach this document.")
# the form's error for a required document not attached, by the call's document kind
DOCUMENTS_MISSING = {"cv": _l("Attach your curriculum vitae."),
                     "academic_proof": _l("Attach your proof of studies or degree."),
                     "language_certificate": _l("Attach your language certificate.")}
NO_DOCUMENT_CHOSEN = _l("Choose at least one file to send.")
DOCUMENT_REFUSED = _l("This file cannot be accepted; save or export it again as a plain document.")

# what the status page says about a problem, by its code
PROBLEMS = {
    "missing_document": _l("A required document is missing."),
    "document_unavailable": _l("A document could not be found; upload it again."),
    "too_young": _l("Applicants must have reached the programme's minimum age by the deadline."),
    "nationality_not_eligible": _l("Applicants must be nationals of a NATO member country."),
    "insufficient_study": _l("Students must have completed enough years of study by the deadline."),
    "degree_not_obtained": _l("The degree must be obtained by the deadline."),
    "degree_too_old": _l("The degree was obtained too long before the deadline."),
    "language_level_insufficient": _l("English or French at the required level is needed."),
    **DOCUMENT_REFUSALS,
}

ERROR_PAGES = {
    400: _l("Your browser sent something we could not read. Please go back and try again."),
    404: _l("This page does not exist, or the link is wrong or incomplete."),
    405: _l("This page cannot be used this way."),
    413: _l("What you sent is too large."),
}
ERROR_PAGE_FALLBACK = _l("Please try again in a moment.")

# what happens next, on the portal, by status
NEXT_STEPS = {
    "submitted": _l("We are checking that your application is eligible and complete. This usually takes a few "
                    "minutes, and we will email you the outcome."),
    "checking": _l("We are checking that your application is eligible and complete. This usually takes a few "
                   "minutes, and we will email you the outcome."),
    "incomplete": _l("Some documents are missing or could not be read. Add them below before the deadline: we "
                     "check your application again as soon as they arrive."),
    "ineligible": _l("Your application does not meet the programme's eligibility rules, so it cannot be "
                     "considered in this call. The reasons are below."),
    "under_review": _l("The departments you chose are reviewing your application. We will email you when a "
                       "decision is made, usually a few weeks after the deadline."),
    "shortlisted": _l("You are shortlisted. The next step is a selection review: an interview with a panel of "
                      "the department. We will email you an invitation to book a time on this page."),
    "reserve": _l("You are on the reserve list. If a place becomes available we will email you; there is "
                  "nothing you need to do."),
    "rejected": _l("Your application was not selected this time. Thank you for your interest: you are welcome "
                   "to apply to a future call."),
    "withdrawn": _l("You withdrew this application. You can still download or erase your data. To apply again, "
                    "send a new application before the deadline."),
}

FORM_REFUSALS = {
    "call_closed": _l("The deadline for this call has passed."),
    "no_open_call": _l("No call for applications is open."),
}
FORM_REFUSAL_FALLBACK = _l("Your application could not be sent; please try again.")


def label(mapping: dict, code: str) -> str:
    """The applicant's word for `code`, or the code itself when it has none yet."""
    return str(mapping[code]) if code in mapping else code


def document_hint(rule: dict) -> str:
    """Which files a document accepts, from the call's rule: "PDF or DOCX, up to 5 MB, 10 pages"."""
    kinds = _(" or ").join(MEDIA_TYPES.get(t, t) for t in rule["types"])
    size = format_decimal(rule["max_bytes"] / (1024 * 1024), format="#,##0.#")
    if rule.get("max_pages"):
        return _("%(types)s, up to %(size)s MB and %(pages)s pages", types=kinds, size=size,
                 pages=rule["max_pages"])
    return _("%(types)s, up to %(size)s MB", types=kinds, size=size)


def document_name(rule: dict) -> str:
    """A call's document in the page's language, or the call's own label for a kind with no words here."""
    return label(DOCUMENTS, rule["kind"]) if rule["kind"] in DOCUMENTS else rule["label"]


def document_missing(rule: dict | None) -> str:
    """The form's error for a required document left out, naming it."""
    if rule is None:
        return str(DOCUMENT_MISSING)
    if rule["kind"] in DOCUMENTS_MISSING:
        return str(DOCUMENTS_MISSING[rule["kind"]])
    return _("Attach this document: %(document)s.", document=document_name(rule))


def document_refused(rule: dict | None, reason: str | None) -> str:
    """The form's error for a refused file, naming its document ("Curriculum vitae: the file is empty.")."""
    problem = str(DOCUMENT_REFUSALS.get(reason, DOCUMENT_REFUSED) if reason else DOCUMENT_REFUSED)
    if rule is None:
        return problem
    # the sentence goes on after the document's name
    return _("%(document)s: %(problem)s", document=document_name(rule), problem=problem[:1].lower() + problem[1:])


def _document_in(call, message: str) -> str | None:
    # the checks name the document by the call's label at the start of their sentence ("Curriculum vitae is
    # missing."); the longest label first, so that one label that begins another cannot be taken for it
    for rule in sorted(call.documents, key=lambda rule: -len(rule["label"])):
        if message.startswith(rule["label"]):
            return document_name(rule)
    return None


def problem_detail(problem: dict, call) -> str | None:
    """The status page's sentence for a problem with the call's figures (age, years, level, document), if any."""
    code, rules = problem.get("code"), call.rules
    deadline = format_date(call.deadline, "long")
    if code in ("missing_document", "document_unavailable"):
        document = _document_in(call, problem.get("message", ""))
        if document is None:
            return None
        if code == "missing_document":
            return _("%(document)s is missing.", document=document)
        return _("%(document)s could not be found; upload it again.", document=document)
    if code == "too_young":
        return ngettext("Applicants must be at least %(num)s year old on %(date)s.",
                        "Applicants must be at least %(num)s years old on %(date)s.", rules["min_age"],
                        date=deadline)
    if code == "insufficient_study":
        return ngettext("Students must have completed at least %(num)s year of study by %(date)s.",
                        "Students must have completed at least %(num)s years of study by %(date)s.",
                        rules["min_years_completed"], date=deadline)
    if code == "degree_not_obtained":
        return _("The degree must be obtained by %(date)s.", date=deadline)
    if code == "degree_too_old":
        return ngettext("The degree must have been obtained less than %(num)s month before %(date)s.",
                        "The degree must have been obtained less than %(num)s months before %(date)s.",
                        rules["max_months_since_graduation"], date=deadline)
    if code == "language_level_insufficient":
        return _("English or French at level %(level)s or higher is needed.", level=rules["min_language_level"])
    return None


def motivation_length(*, low: int, high: int, words: int) -> str:
    """Why a motivation statement was refused: the words it must have and the words it has."""
    return ngettext("Write between %(min)s and %(max)s words; yours has %(num)s word.",
                    "Write between %(min)s and %(max)s words; yours has %(num)s words.", words, min=low, max=high)


def _fold(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c)).casefold()


@lru_cache(maxsize=4)
def countries(language: str) -> tuple[tuple[str, str], ...]:
    """Every ISO 3166-1 country as `(alpha-2, name in `language`)`, sorted as a reader of it would."""
    names = gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=[language], fallback=True)
    found = [(c.alpha_2, names.gettext(getattr(c, "common_name", None) or c.name)) for c in pycountry.countries]
    return tuple(sorted(found, key=lambda pair: _fold(pair[1])))


def country_code(value: str, language: str) -> str:
    """The alpha-2 code for a country's name in `language` (or in English, or a code typed as is)."""
    wanted = _fold(value.strip())
    for lang in dict.fromkeys((language, "en")):
        for code, name in countries(lang):
            if _fold(name) == wanted:
                return code
    return value.strip().upper()


def country_name(code: str, language: str) -> str:
    return dict(countries(language)).get((code or "").upper(), code or "")
