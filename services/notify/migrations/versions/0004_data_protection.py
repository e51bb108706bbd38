"""data protection: references whose person was erased (no email recorded or sent for them again)

Revision ID: 0004
Revises: 0003
"""
from alembic import op
import sqlalchemy as sa

from shared.db import UTCDateTime

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'erased_references',
        sa.Column('reference', sa.String(length=64), nullable=False),
        sa.Column('erased_at', UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('reference', name=op.f('pk_erased_references')),
    )


def downgrade() -> None:
    op.drop_table('erased_references')
