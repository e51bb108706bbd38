"""dead letters: events the consumer gave up on, for staff and replay

Revision ID: 0002
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa
import shared.db


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('dead_letters',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('event_id', sa.String(length=64), nullable=True),
    sa.Column('event_type', sa.String(length=64), nullable=True),
    sa.Column('task', sa.String(length=100), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('error', sa.Text(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('first_failed_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_failed_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('replayed_at', shared.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('outcome', sa.String(length=16), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dead_letters'))
    )
    with op.batch_alter_table('dead_letters', schema=None) as batch_op:
        batch_op.create_index('ix_dead_letters_event_id', ['event_id'], unique=False)
        batch_op.create_index('ix_dead_letters_open', ['id'], unique=False,
                              postgresql_where=sa.text('replayed_at IS NULL'),
                              sqlite_where=sa.text('replayed_at IS NULL'))


def downgrade() -> None:
    with op.batch_alter_table('dead_letters', schema=None) as batch_op:
        batch_op.drop_index('ix_dead_letters_open', postgresql_where=sa.text('replayed_at IS NULL'),
                            sqlite_where=sa.text('replayed_at IS NULL'))
        batch_op.drop_index('ix_dead_letters_event_id')
    op.drop_table('dead_letters')
