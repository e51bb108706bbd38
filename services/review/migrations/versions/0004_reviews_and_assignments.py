"""reviews and assignments (placeholder reserved for helper 'scoring' (issue 6a); fill in)

Revision ID: 0004
Revises: 0003
"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('applications', sa.Column('blind_dossier_key', sa.String(length=255), nullable=True))
    op.add_column('applications', sa.Column('blind_dossier_pages', sa.Integer(), nullable=True))
    op.add_column('applications', sa.Column('blind_dossier_sha256', sa.String(length=64), nullable=True))
    op.add_column('applications', sa.Column('dossier_flags', sa.JSON(), nullable=False, server_default='[]'))
    op.add_column('applications', sa.Column('score', sa.Float(), nullable=True))
    op.add_column('applications', sa.Column('score_spread', sa.Float(), nullable=True))
    op.add_column('applications', sa.Column('reviews_done', sa.Integer(), nullable=False, server_default='0'))
    op.add_column('applications', sa.Column('reviews_assigned', sa.Integer(), nullable=False, server_default='0'))
    op.create_index('ix_applications_score', 'applications', ['score'])
    # helper 'scoring' (issue 6a): the reviews, assignments and review settings tables go here


def downgrade() -> None:
    op.drop_index('ix_applications_score', 'applications')
    for column in ('reviews_assigned', 'reviews_done', 'score_spread', 'score', 'dossier_flags',
                   'blind_dossier_sha256', 'blind_dossier_pages', 'blind_dossier_key'):
        op.drop_column('applications', column)
