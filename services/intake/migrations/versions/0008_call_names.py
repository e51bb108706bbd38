"""call names per language: applicants read the call's name in their language, as they do its departments'

Revision ID: 0008
Revises: 0007
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

calls = sa.table('calls', sa.column('id', sa.Integer()), sa.column('name', sa.String()),
                 sa.column('names', sa.JSON()))


def upgrade() -> None:
    op.add_column('calls', sa.Column('names', sa.JSON(), nullable=True))
    # the English name until the seed that follows every migrate (`python -m services.intake seed`) adds the others
    connection = op.get_bind()
    for call_id, name in connection.execute(sa.select(calls.c.id, calls.c.name)).all():
        connection.execute(calls.update().where(calls.c.id == call_id).values(names={'en': name}))
    with op.batch_alter_table('calls') as batch:
        batch.alter_column('names', existing_type=sa.JSON(), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table('calls') as batch:
        batch.drop_column('names')
