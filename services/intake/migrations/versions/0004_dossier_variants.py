"""dossier variants: the blind dossier beside the full one, and the documents a dossier could not include

Revision ID: 0004
Revises: 0003
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('applications', sa.Column('blind_dossier_key', sa.String(length=200), nullable=True))
    op.add_column('applications', sa.Column('blind_dossier_pages', sa.Integer(), nullable=True))
    op.add_column('applications', sa.Column('blind_dossier_sha256', sa.String(length=64), nullable=True))
    # existing rows: no flag known until their dossier is rendered again
    op.add_column('applications', sa.Column('dossier_flags', sa.JSON(), nullable=False, server_default='[]'))


def downgrade() -> None:
    with op.batch_alter_table('applications') as batch:
        batch.drop_column('dossier_flags')
        batch.drop_column('blind_dossier_sha256')
        batch.drop_column('blind_dossier_pages')
        batch.drop_column('blind_dossier_key')
