"""Email templates: `templates/email/<status>/<lang>/{subject.txt,body.txt,body.html}`."""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateNotFound, meta, select_autoescape

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates" / "email"
PARTS = ("subject.txt", "body.txt", "body.html")


class MissingTemplate(LookupError):
    """No complete template set for a (status, language) pair."""

    def __init__(self, status: str, language: str, missing: list[str]):
        self.status, self.language, self.missing = status, language, missing
        super().__init__(
            f"no email template for status {status!r} in language {language!r}: "
            f"missing {', '.join(missing)} under {TEMPLATES_DIR}"
        )


@dataclass(frozen=True)
class RenderedEmail:
    template: str
    subject: str
    text: str
    html: str


@lru_cache(maxsize=4)
def _environment(root: str) -> Environment:
    # HTML parts are autoescaped; subjects and text bodies are plain text and must stay verbatim.
    # Templates ship with the code: compiled once per process, not checked on disk for every email.
    return Environment(
        loader=FileSystemLoader(root),
        auto_reload=False,
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False, default=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        keep_trailing_newline=True,
    )


def template_name(status: str, language: str) -> str:
    return f"{status}/{language}"


def render_email(*, status: str, language: str, context: dict, root: Path = TEMPLATES_DIR) -> RenderedEmail:
    """Render the subject, text and HTML bodies for a status in a language."""
    name = template_name(status, language)
    if "/" in status or "/" in language or ".." in name:
        raise MissingTemplate(status, language, [f"{name}/{part}" for part in PARTS])
    env = _environment(str(root))
    try:
        subject, text, html = (env.get_template(f"{name}/{part}") for part in PARTS)
    except TemplateNotFound:
        raise MissingTemplate(status, language, [f"{name}/{part}" for part in PARTS
                                                 if not (root / name / part).is_file()]) from None
    return RenderedEmail(
        template=name,
        # a subject is one header line, whatever the template or the data contain
        subject=" ".join(subject.render(context).split()),
        text=text.render(context),
        html=html.render(context),
    )


LANGUAGES = ("en", "fr")
_STATUS_SAMPLE = {"name": "Zoé Lefèvre", "reference": "NIP27-7QK4M2",
                  "link": "https://apply.example.org/access/sample-single-use-secret?lang=en",
                  "expires_at": "31 January 2027, 23:59",
                  "reasons": ["Proof of studies or degree is missing.",
                              "English or French at level B2 or higher is needed."],
                  "department_names": ["Political science and international relations",
                                       "Information technology and cybersecurity"]}
_ACCESS_SAMPLE = {"name": "Zoé Lefèvre", "reference": "NIP27-7QK4M2",
                  "link": "https://apply.example.org/access/sample-signed-token",
                  "expires_at": "31 January 2027, 23:59"}
# Every template and the placeholders it may use, with sample values (the admins' preview shows them):
# a template not listed here, or using a name its entry lacks, is a defect (template_problems).
SAMPLES: dict[str, dict] = {
    **{status: _STATUS_SAMPLE for status in ("submitted", "under_review", "incomplete", "ineligible",
                                             "shortlisted", "reserve", "rejected", "withdrawn")},
    **{f"access_{purpose}": _ACCESS_SAMPLE for purpose in ("status", "draft", "erasure", "duplicate")},
    "digest": {"applications": [{"reference": "NIP27-7QK4M2"}, {"reference": "NIP27-AB12CD"}],
               "review_url": "https://review.example.org"},
}


def preview(template: str, language: str, root: Path = TEMPLATES_DIR) -> RenderedEmail:
    """A template rendered with its sample data."""
    return render_email(status=template, language=language, context=SAMPLES[template], root=root)


def _placeholders(env: Environment, name: str) -> set[str]:
    """The variables a template reads, its layouts' included."""
    source = env.loader.get_source(env, name)[0]  # type: ignore[union-attr]
    ast = env.parse(source)
    found = set(meta.find_undeclared_variables(ast))
    for parent in meta.find_referenced_templates(ast):
        if parent:
            found |= _placeholders(env, parent)
    return found


def template_problems(root: Path = TEMPLATES_DIR) -> list[str]:
    """What is wrong with the template folders: undocumented or unknown placeholders, missing languages or parts."""
    env = _environment(str(root))
    problems = []
    found = sorted(path.name for path in root.iterdir() if path.is_dir() and not path.name.startswith("_"))
    problems += [f"{name}: not documented in SAMPLES" for name in found if name not in SAMPLES]
    for template in sorted(SAMPLES):
        for language in LANGUAGES:
            for part in PARTS:
                name = f"{template_name(template, language)}/{part}"
                if not (root / name).is_file():
                    problems.append(f"{name}: missing")
                    continue
                unknown = _placeholders(env, name) - set(SAMPLES[template])
                problems += [f"{name}: unknown placeholder {variable!r}" for variable in sorted(unknown)]
    return problems
