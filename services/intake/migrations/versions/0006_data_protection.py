"""data protection: the privacy notice agreed to, tombstones of erased applications, anonymous counts

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
        batch.add_column(sa.Column('consent_version', sa.String(length=20), nullable=True))
        batch.add_column(sa.Column('consent_sha256', sa.String(length=64), nullable=True))
    op.create_table(
        'tombstones',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('reference', sa.String(length=20), nullable=False),
        sa.Column('call_id', sa.Integer(), nullable=False),
        sa.Column('final_status', sa.String(length=20), nullable=False),
        sa.Column('departments', sa.JSON(), nullable=False),
        sa.Column('region', sa.String(length=40), nullable=True),
        sa.Column('submitted_at', UTCDateTime(), nullable=True),
        sa.Column('last_status_at', UTCDateTime(), nullable=True),
        sa.Column('erased_at', UTCDateTime(), nullable=False),
        sa.Column('reason', sa.String(length=500), nullable=False),
        sa.ForeignKeyConstraint(['call_id'], ['calls.id'], name=op.f('fk_tombstones_call_id_calls')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_tombstones')),
        sa.UniqueConstraint('reference', name=op.f('uq_tombstones_reference')),
    )
    op.create_index(op.f('ix_tombstones_call_id'), 'tombstones', ['call_id'])
    op.create_table(
        'erased_counts',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('call_id', sa.Integer(), nullable=False),
        sa.Column('dimension', sa.String(length=40), nullable=False),
        sa.Column('value', sa.String(length=40), nullable=False),
        sa.Column('count', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['call_id'], ['calls.id'], name=op.f('fk_erased_counts_call_id_calls')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_erased_counts')),
        sa.UniqueConstraint('call_id', 'dimension', 'value', name='uq_erased_counts_call_dimension_value'),
    )


def downgrade() -> None:
    op.drop_table('erased_counts')
    op.drop_index(op.f('ix_tombstones_call_id'), table_name='tombstones')
    op.drop_table('tombstones')
    with op.batch_alter_table('applications') as batch:
        batch.drop_column('consent_sha256')
        batch.drop_column('consent_version')
