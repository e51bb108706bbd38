"""The review, assignment and review settings forms (CSRF-protected by Flask-WTF)."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, RadioField, SelectField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from services.review.i18n import STATUS_LABELS
from services.review.reviews.models import RECOMMENDATIONS


class ReviewForm(FlaskForm):
    recommendation = RadioField(_l("Recommendation"), choices=[SelectChoice(r, STATUS_LABELS[r]) for r in RECOMMENDATIONS],
                                validators=[InputRequired(message=_l("Choose a recommendation."))])
    comment = TextAreaField(_l("Comment"), validators=[Optional(), Length(max=4000)])


def review_form(rubric: list[dict], **kwargs) -> ReviewForm:
    """A review form with one field per criterion of `rubric`, named `score_<code>`."""

    class RubricReviewForm(ReviewForm):
        pass

    for criterion in rubric:
        setattr(RubricReviewForm, f"score_{criterion['code']}", RadioField(
            criterion["label"], coerce=int,
            choices=[SelectChoice(v, str(v)) for v in range(criterion["min"], criterion["max"] + 1)],
            validators=[InputRequired(message=_l("Score %(criterion)s.", criterion=criterion["label"].lower()))]))
    return RubricReviewForm(**kwargs)


class AssignmentForm(FlaskForm):
    """Choices are filled in for display; the service checks a posted choice against whom the user may assign."""
    reviewer_id = SelectField(_l("Assign"), coerce=int, validate_choice=False,
                              validators=[InputRequired(message=_l("Choose a reviewer."))])
    replaces = SelectField(_l("In place of"), coerce=lambda v: int(v) if v not in (None, "", "None") else None,
                           validate_choice=False, validators=[Optional()])


class SettingsForm(FlaskForm):
    reviewers_per_application = IntegerField(_l("Reviewers per application"),
                                             validators=[InputRequired(), NumberRange(min=1, max=10)])
    blind_round = BooleanField(_l("Blind round: reviewers see no name, nationality, date of birth or email"))
