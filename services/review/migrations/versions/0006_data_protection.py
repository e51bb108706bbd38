"""data protection: when an application's person was erased from the read model

Revision ID: 0006
Revises: 0005
"""
from alembic import op
import sqlalchemy as sa

from shared.db import UTCDateTime

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('applications') as batch:
        batch.add_column(sa.Column('erased_at', UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('applications') as batch:
        batch.drop_column('erased_at')
