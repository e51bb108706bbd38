"""The decision and release forms on the application page (CSRF-protected)."""
from flask_wtf import FlaskForm
from wtforms import IntegerField, RadioField, SelectField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional
from wtforms.widgets import HiddenInput

from services.review.decisions.schemas import REASON_CODES
from shared.events import DECISIONS


class DecisionForm(FlaskForm):
    decision = RadioField("Decision", choices=[SelectChoice(d, d.capitalize()) for d in DECISIONS],
                          validators=[DataRequired(message="Choose a decision.")])
    reason_code = SelectField("Reason", choices=[SelectChoice("", "(none)")] + [SelectChoice(code, label) for code, label in REASON_CODES.items()],
                              validators=[Optional()])
    note = TextAreaField("Note (internal)", validators=[Optional(), Length(max=4000)])


class ReleaseForm(FlaskForm):
    """The confirmation page posts the version of the decision it showed: a later revision is not released."""
    version = IntegerField(validators=[InputRequired(message="The confirmed version is missing; reload."),
                                       NumberRange(min=1)], widget=HiddenInput())
