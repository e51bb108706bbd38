"""Pure rules of the workbench: list arguments, the score histogram, spreadsheet-safe cells, labels."""
from __future__ import annotations

import pytest
from flask import Flask
from marshmallow import ValidationError

from services.review import i18n
from services.review.applications.schemas import ListArgs, url_args
from services.review.applications.service import search_pattern
from services.review.reports.service import histogram, neutralise


def test_list_arguments_default_and_bound():
    assert ListArgs().load({}) == {"status": None, "department": None, "eligible": None, "duplicate": None,
                                    "proposed": None, "reviewer": None, "score_min": None, "score_max": None,
                                    "q": None, "sort": "-submitted", "page": 1, "per_page": 50}
    with pytest.raises(ValidationError) as info:
        ListArgs().load({"per_page": "201", "sort": "name", "score_min": "4", "score_max": "3"})
    assert set(info.value.messages) == {"per_page", "sort"}
    with pytest.raises(ValidationError) as info:
        ListArgs().load({"score_min": "4", "score_max": "3"})
    assert set(info.value.messages) == {"score_min"}


def test_links_keep_the_view_without_defaults():
    args = ListArgs().load({"department": "it", "eligible": "true", "page": "3"})
    assert url_args(args) == {"department": "it", "eligible": True, "page": 3}
    assert url_args(args, page=None, sort="-score") == {"department": "it", "eligible": True, "sort": "-score"}


@pytest.mark.parametrize("q, pattern", [("  Dubois ", "%dubois%"), ("100%", "%100\\%%"), ("a_b", "%a\\_b%"),
                                        ("back\\slash", "%back\\\\slash%")])
def test_search_takes_wildcards_literally(q, pattern):
    assert search_pattern(q) == pattern


def test_histogram_counts_half_points_with_five_in_the_last_bucket():
    buckets = histogram([1.0, 1.49, 1.5, 4.99, 5.0, 3.2])
    assert [(b.low, b.count) for b in buckets] == [(1.0, 2), (1.5, 1), (2.0, 0), (2.5, 0), (3.0, 1), (3.5, 0),
                                                   (4.0, 0), (4.5, 2)]


@pytest.mark.parametrize("value, cell", [("=1+1", "'=1+1"), ("+33 6", "'+33 6"), ("-x", "'-x"), ("@A1", "'@A1"),
                                         ("\tTab", "'\tTab"), ("Ana", "Ana"), (None, ""), (4, "4")])
def test_cells_that_start_a_formula_get_an_apostrophe(value, cell):
    assert neutralise(value) == cell


@pytest.mark.parametrize("language, expected", [("en", ("Under review", "Germany", "March session")),
                                                ("fr", ("En évaluation", "Allemagne", "Session de mars"))])
def test_labels_follow_the_locale(language, expected):
    app = Flask(__name__, root_path=i18n.__file__.rsplit("/", 1)[0])
    app.config["BABEL_DEFAULT_LOCALE"] = language
    from flask_babel import Babel

    Babel(app)
    with app.test_request_context():
        assert (i18n.status_label("under_review"), i18n.country_label("de"), i18n.session_label("march")) == expected
        assert i18n.country_label("ZZ") == "ZZ" and i18n.status_label(None) in ("Unknown", "Inconnu")
