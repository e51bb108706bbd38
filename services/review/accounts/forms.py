"""The sign-in form and the users page's actions (CSRF-protected by Flask-WTF)."""
from flask_wtf import FlaskForm
from wtforms import EmailField, HiddenField, PasswordField, SelectField, SelectMultipleField
from wtforms.validators import AnyOf, DataRequired, Length, Optional

from services.review.accounts.models import ROLES
from services.review.departments import DEPARTMENTS


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)])


class UserActionForm(FlaskForm):
    action = HiddenField(validators=[AnyOf(("activate", "deactivate", "unlock", "save"),
                                           message="Unknown action.")])
    role = SelectField("Role", choices=[(role, role.capitalize()) for role in ROLES], validators=[Optional()],
                       validate_choice=True)
    departments = SelectMultipleField("Departments", choices=list(DEPARTMENTS.items()), validators=[Optional()])

    def validate_role(self, field):
        if self.action.data == "save" and not field.data:
            raise ValueError("Choose a role.")
