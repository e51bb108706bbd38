"""documents.inspected_by: the inspector that judged the stored bytes, so the check need not judge them again

Revision ID: 0003
Revises: 0002
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # nullable: documents stored before this revision were judged by an older inspector and are judged again
    op.add_column('documents', sa.Column('inspected_by', sa.String(length=40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('documents') as batch:
        batch.drop_column('inspected_by')
