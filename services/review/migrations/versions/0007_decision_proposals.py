"""decision proposals: a coordinator's proposed decision, for an admin to accept or override

Revision ID: 0007
Revises: 0006
"""
from alembic import op
import sqlalchemy as sa

import shared.db

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('decision_proposals',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('reference', sa.String(length=32), nullable=False),
    sa.Column('decision', sa.String(length=16), nullable=False),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.Column('reason_code', sa.String(length=64), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('proposed_by', sa.String(length=254), nullable=False),
    sa.Column('proposed_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_decision_proposals')),
    sa.UniqueConstraint('reference', name=op.f('uq_decision_proposals_reference'))
    )


def downgrade() -> None:
    op.drop_table('decision_proposals')
