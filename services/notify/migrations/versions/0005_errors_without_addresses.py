"""last errors without addresses: answers stored before notify removed them are rewritten the same way

Revision ID: 0005
Revises: 0004
"""
from alembic import op
import sqlalchemy as sa

from services.notify.deliveries.smtp import without_addresses

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

_deliveries = sa.table('deliveries', sa.column('id', sa.Integer), sa.column('last_error', sa.Text))


def upgrade() -> None:
    connection = op.get_bind()
    rows = connection.execute(sa.select(_deliveries.c.id, _deliveries.c.last_error)
                              .where(_deliveries.c.last_error.like('%@%'))).all()
    for row in rows:
        cleaned = without_addresses(row.last_error)
        if cleaned != row.last_error:
            connection.execute(_deliveries.update().where(_deliveries.c.id == row.id).values(last_error=cleaned))


def downgrade() -> None:
    pass  # the addresses are gone for good, as intended
