"""drafts, and one active application per address (a withdrawn one no longer blocks applying again)

Revision ID: 0005
Revises: 0004
"""
from alembic import op
import sqlalchemy as sa

import shared.db

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

ACTIVE = sa.text("status <> 'withdrawn'")


def upgrade() -> None:
    op.create_table('drafts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('reference', sa.String(length=20), nullable=False),
    sa.Column('call_id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('language', sa.String(length=2), nullable=False),
    sa.Column('values', sa.JSON(), nullable=False),
    sa.Column('documents', sa.JSON(), nullable=False),
    sa.Column('created_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['call_id'], ['calls.id'], name=op.f('fk_drafts_call_id_calls')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_drafts')),
    sa.UniqueConstraint('reference', name=op.f('uq_drafts_reference'))
    )
    op.create_index(op.f('ix_drafts_updated_at'), 'drafts', ['updated_at'], unique=False)
    with op.batch_alter_table('applications', schema=None) as batch_op:
        batch_op.drop_constraint('uq_applications_call_email', type_='unique')
        batch_op.create_index('uq_applications_call_email_active', ['call_id', 'email_normalized'], unique=True,
                              postgresql_where=ACTIVE, sqlite_where=ACTIVE)


def downgrade() -> None:
    with op.batch_alter_table('applications', schema=None) as batch_op:
        batch_op.drop_index('uq_applications_call_email_active')
        batch_op.create_unique_constraint('uq_applications_call_email', ['call_id', 'email_normalized'])
    op.drop_index(op.f('ix_drafts_updated_at'), table_name='drafts')
    op.drop_table('drafts')
