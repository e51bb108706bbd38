"""held uploads: valid files of a refused form, kept for the next try (their random ids' sha256)

Revision ID: 0010
Revises: 0009
"""
from alembic import op
import sqlalchemy as sa

from shared.db import UTCDateTime

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'held_uploads',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('secret_sha256', sa.String(64), nullable=False),
        sa.Column('call_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(40), nullable=False),
        sa.Column('filename', sa.String(255), nullable=False),
        sa.Column('key', sa.String(200), nullable=False),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['call_id'], ['calls.id'], name=op.f('fk_held_uploads_call_id_calls')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_held_uploads')),
        sa.UniqueConstraint('secret_sha256', name=op.f('uq_held_uploads_secret_sha256')),
    )
    op.create_index(op.f('ix_held_uploads_created_at'), 'held_uploads', ['created_at'])


def downgrade() -> None:
    op.drop_index(op.f('ix_held_uploads_created_at'), table_name='held_uploads')
    op.drop_table('held_uploads')
