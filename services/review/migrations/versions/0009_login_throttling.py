"""login throttling: per (account, source) failure counts and a doubling wait per account replace the lock-out

Revision ID: 0009
Revises: 0008
"""
from alembic import op
import sqlalchemy as sa

import shared.db

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # the rows are minutes-old counters: starting afresh loses nothing worth a data migration
    with op.batch_alter_table('login_throttles', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_login_throttles_window_started_at'))
    op.drop_table('login_throttles')
    op.create_table('login_throttles',
    sa.Column('email_hash', sa.String(length=64), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('last_failed_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('wait_until', shared.db.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('email_hash', name=op.f('pk_login_throttles'))
    )
    with op.batch_alter_table('login_throttles', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_login_throttles_last_failed_at'), ['last_failed_at'], unique=False)
    op.create_table('login_source_throttles',
    sa.Column('email_hash', sa.String(length=64), nullable=False),
    sa.Column('source_hash', sa.String(length=64), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('last_failed_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('email_hash', 'source_hash', name=op.f('pk_login_source_throttles'))
    )
    with op.batch_alter_table('login_source_throttles', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_login_source_throttles_last_failed_at'), ['last_failed_at'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('login_source_throttles', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_login_source_throttles_last_failed_at'))
    op.drop_table('login_source_throttles')
    with op.batch_alter_table('login_throttles', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_login_throttles_last_failed_at'))
    op.drop_table('login_throttles')
    op.create_table('login_throttles',
    sa.Column('email_hash', sa.String(length=64), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('window_started_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('locked_until', shared.db.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('email_hash', name=op.f('pk_login_throttles'))
    )
    with op.batch_alter_table('login_throttles', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_login_throttles_window_started_at'), ['window_started_at'], unique=False)
