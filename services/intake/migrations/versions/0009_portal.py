"""the applicant portal: single-use links (their secrets' sha256) and a token version per application

Revision ID: 0009
Revises: 0008
"""
from alembic import op
import sqlalchemy as sa

from shared.db import UTCDateTime

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'portal_links',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('secret_sha256', sa.String(64), nullable=False, unique=True),
        sa.Column('reference', sa.String(20), nullable=False, index=True),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.Column('expires_at', UTCDateTime(), nullable=False),
        sa.Column('used_at', UTCDateTime(), nullable=True),
    )
    op.add_column('applications', sa.Column('token_version', sa.Integer(), nullable=False, server_default='0'))


def downgrade() -> None:
    with op.batch_alter_table('applications') as batch:
        batch.drop_column('token_version')
    op.drop_table('portal_links')
