"""dossier attempts: renders started and not finished, so a document that kills its render is left out

Revision ID: 0007
Revises: 0006
"""
from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('applications', sa.Column('dossier_attempts', sa.Integer(), nullable=False, server_default='0'))


def downgrade() -> None:
    with op.batch_alter_table('applications') as batch:
        batch.drop_column('dossier_attempts')
