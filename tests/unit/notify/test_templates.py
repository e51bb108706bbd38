"""Templates ops can trust: every one complete in both languages, using only its documented placeholders."""
import shutil

import pytest

from services.notify.deliveries.rendering import LANGUAGES, SAMPLES, TEMPLATES_DIR, preview, template_problems


@pytest.fixture
def templates(tmp_path):
    """A copy of the real template folders, to break on purpose."""
    root = tmp_path / "email"
    shutil.copytree(TEMPLATES_DIR, root)
    return root


def test_shipped_templates_have_no_problems():
    assert template_problems() == []


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("template", sorted(SAMPLES))
def test_preview_renders_every_template_with_its_sample_data(template, language):
    email = preview(template, language)
    assert email.subject and "\n" not in email.subject
    assert "{{" not in email.subject + email.text + email.html
    assert f'lang="{language}"' in email.html


def test_unknown_placeholder_is_a_problem(templates):
    body = templates / "rejected" / "fr" / "body.txt"
    body.write_text(body.read_text().replace("{{ reference }}", "{{ reference }} {{ surname }}", 1))

    assert template_problems(templates) == ["rejected/fr/body.txt: unknown placeholder 'surname'"]


def test_unknown_placeholder_in_a_layout_is_a_problem_of_every_template_using_it(templates):
    layout = templates / "_layout" / "access_en.html"
    layout.write_text(layout.read_text().replace("{{ link }}", "{{ status_url }}"))

    problems = template_problems(templates)
    assert "access_draft/en/body.html: unknown placeholder 'status_url'" in problems
    assert len(problems) == 4  # status, draft, erasure and duplicate


def test_missing_language_is_a_problem(templates):
    shutil.rmtree(templates / "shortlisted" / "fr")

    assert template_problems(templates) == [f"shortlisted/fr/{part}: missing"
                                            for part in ("subject.txt", "body.txt", "body.html")]


@pytest.mark.parametrize("part", ["body.txt", "body.html"])
def test_missing_text_or_html_part_is_a_problem(templates, part):
    (templates / "digest" / "en" / part).unlink()

    assert template_problems(templates) == [f"digest/en/{part}: missing"]


def test_undocumented_template_is_a_problem(templates):
    shutil.copytree(templates / "submitted", templates / "interview")

    assert template_problems(templates) == ["interview: not documented in SAMPLES"]
