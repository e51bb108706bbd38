"""dossier event order: when the render the read model shows was announced, so that a late older one is ignored

Revision ID: 0008
Revises: 0007
"""
from alembic import op
import sqlalchemy as sa

import shared.db

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('applications', sa.Column('dossier_rendered_at', shared.db.UTCDateTime(timezone=True),
                                            nullable=True))


def downgrade() -> None:
    op.drop_column('applications', 'dossier_rendered_at')
