from flask import Blueprint

from services.intake.db import db
from services.intake.programme.schemas import ProgrammeSchema
from services.intake.programme.service import open_call

bp = Blueprint("programme", __name__)


@bp.get("/api/v1/programme")
def programme():
    return ProgrammeSchema().dump(open_call(session=db.session))
