"""The decision and release forms on the application page (CSRF-protected)."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import IntegerField, RadioField, SelectField, SelectMultipleField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional
from wtforms.widgets import HiddenInput

from services.review.decisions.schemas import REASON_CODES
from services.review.i18n import STATUS_LABELS
from shared.events import DECISIONS


class DecisionForm(FlaskForm):
    decision = RadioField(_l("Decision"), choices=[SelectChoice(d, STATUS_LABELS[d]) for d in DECISIONS],
                          validators=[DataRequired(message=_l("Choose a decision."))])
    reason_code = SelectField(_l("Reason"), choices=[SelectChoice("", _l("(none)"))] + [SelectChoice(code, label) for code, label in REASON_CODES.items()],
                              validators=[Optional()])
    note = TextAreaField(_l("Note (internal)"), validators=[Optional(), Length(max=4000)])


class ReleaseForm(FlaskForm):
    """The confirmation page posts the version of the decision it showed: a later revision is not released."""
    version = IntegerField(validators=[InputRequired(message=_l("The confirmed version is missing; reload.")),
                                       NumberRange(min=1)], widget=HiddenInput())


class BulkDecisionForm(FlaskForm):
    """One decision, with a reason, for every application ticked in the list."""
    references = SelectMultipleField(_l("Applications"), validators=[DataRequired(message=_l("Tick at least one application."))],
                                     validate_choice=False)
    decision = RadioField(_l("Decision"), choices=[SelectChoice(d, STATUS_LABELS[d]) for d in DECISIONS],
                          validators=[DataRequired(message=_l("Choose a decision."))])
    reason_code = SelectField(_l("Reason"), choices=[SelectChoice(code, label) for code, label in REASON_CODES.items()],
                              validators=[DataRequired(message=_l("Choose a reason."))])
    note = TextAreaField(_l("Note (internal)"), validators=[Optional(), Length(max=4000)])


class BulkReleaseForm(FlaskForm):
    """The release confirmation page posts each decision with the version it showed."""
    decisions = SelectMultipleField(validators=[DataRequired(message=_l("Nothing to release."))], validate_choice=False)


class ProposalForm(FlaskForm):
    """A coordinator's proposed decision, with its reason, on the application page."""
    decision = RadioField(_l("Decision"), choices=[SelectChoice(d, STATUS_LABELS[d]) for d in DECISIONS],
                          validators=[DataRequired(message=_l("Choose a decision."))])
    reason_code = SelectField(_l("Reason"), choices=[SelectChoice(code, label) for code, label in REASON_CODES.items()],
                              validators=[DataRequired(message=_l("Choose a reason."))])
    note = TextAreaField(_l("Note (internal)"), validators=[Optional(), Length(max=4000)])


class AcceptProposalForm(FlaskForm):
    """Accepting posts the version of the proposal the page showed: a later revision is not accepted."""
    version = IntegerField(validators=[InputRequired(message=_l("The proposal's version is missing; reload.")),
                                       NumberRange(min=1)], widget=HiddenInput())
