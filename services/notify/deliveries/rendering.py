"""Email templates: `templates/email/<status>/<lang>/{subject.txt,body.txt,body.html}`."""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

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
    # HTML parts are autoescaped; subjects and text bodies are plain text and must stay verbatim
    return Environment(
        loader=FileSystemLoader(root),
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
    safe = "/" not in status and "/" not in language and ".." not in name
    missing = [f"{name}/{part}" for part in PARTS if not safe or not (root / name / part).is_file()]
    if missing:
        raise MissingTemplate(status, language, missing)
    env = _environment(str(root))
    subject = env.get_template(f"{name}/subject.txt").render(context)
    return RenderedEmail(
        template=name,
        # a subject is one header line, whatever the template or the data contain
        subject=" ".join(subject.split()),
        text=env.get_template(f"{name}/body.txt").render(context),
        html=env.get_template(f"{name}/body.html").render(context),
    )
