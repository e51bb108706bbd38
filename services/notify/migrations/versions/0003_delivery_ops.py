"""delivery ops: access-link and digest emails, resend audit, scoping facts (departments, assignments)

Revision ID: 0003
Revises: 0002
"""
from alembic import op
import sqlalchemy as sa
import shared.db


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=16), server_default='applicant', nullable=False))
        batch_op.alter_column('reference', existing_type=sa.String(length=64), nullable=True)

    op.create_table('delivery_actions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('delivery_id', sa.Integer(), nullable=False),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('staff_email', sa.String(length=320), nullable=False),
    sa.Column('address_changed', sa.Boolean(), nullable=False),
    sa.Column('at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['delivery_id'], ['deliveries.id'], name=op.f('fk_delivery_actions_delivery_id_deliveries'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_delivery_actions'))
    )
    with op.batch_alter_table('delivery_actions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_delivery_actions_delivery_id'), ['delivery_id'], unique=False)

    op.create_table('application_departments',
    sa.Column('reference', sa.String(length=64), nullable=False),
    sa.Column('department', sa.String(length=32), nullable=False),
    sa.PrimaryKeyConstraint('reference', 'department', name=op.f('pk_application_departments'))
    )
    op.create_table('assignments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.String(length=36), nullable=False),
    sa.Column('reference', sa.String(length=64), nullable=False),
    sa.Column('reviewer_id', sa.Integer(), nullable=False),
    sa.Column('reviewer_email', sa.String(length=320), nullable=False),
    sa.Column('language', sa.String(length=8), nullable=False),
    sa.Column('assigned_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('digested_at', shared.db.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_assignments')),
    sa.UniqueConstraint('event_id', name=op.f('uq_assignments_event_id'))
    )
    with op.batch_alter_table('assignments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_assignments_reference'), ['reference'], unique=False)
        batch_op.create_index(batch_op.f('ix_assignments_reviewer_id'), ['reviewer_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('assignments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_assignments_reviewer_id'))
        batch_op.drop_index(batch_op.f('ix_assignments_reference'))
    op.drop_table('assignments')
    op.drop_table('application_departments')
    with op.batch_alter_table('delivery_actions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_delivery_actions_delivery_id'))
    op.drop_table('delivery_actions')
    op.execute("DELETE FROM deliveries WHERE reference IS NULL")
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.alter_column('reference', existing_type=sa.String(length=64), nullable=False)
        batch_op.drop_column('kind')
