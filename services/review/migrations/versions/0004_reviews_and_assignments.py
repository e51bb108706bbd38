"""reviews and assignments, review settings, users.language

Revision ID: 0004
Revises: 0003
"""
from alembic import op
import sqlalchemy as sa
import shared.db


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('applications', sa.Column('blind_dossier_key', sa.String(length=255), nullable=True))
    op.add_column('applications', sa.Column('blind_dossier_pages', sa.Integer(), nullable=True))
    op.add_column('applications', sa.Column('blind_dossier_sha256', sa.String(length=64), nullable=True))
    op.add_column('applications', sa.Column('dossier_flags', sa.JSON(), nullable=False, server_default='[]'))
    op.add_column('applications', sa.Column('score', sa.Double(), nullable=True))
    op.add_column('applications', sa.Column('score_spread', sa.Double(), nullable=True))
    op.add_column('applications', sa.Column('reviews_done', sa.Integer(), nullable=False, server_default='0'))
    op.add_column('applications', sa.Column('reviews_assigned', sa.Integer(), nullable=False, server_default='0'))
    op.create_index('ix_applications_score', 'applications', ['score'])
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('language', sa.String(length=2), server_default='en', nullable=False))

    op.create_table('assignments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('reference', sa.String(length=32), nullable=False),
    sa.Column('reviewer_id', sa.Integer(), nullable=False),
    sa.Column('department', sa.String(length=16), nullable=False),
    sa.Column('assigned_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('assigned_by', sa.String(length=254), nullable=True),
    sa.ForeignKeyConstraint(['reference'], ['applications.reference'], name=op.f('fk_assignments_reference_applications'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['reviewer_id'], ['users.id'], name=op.f('fk_assignments_reviewer_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_assignments')),
    sa.UniqueConstraint('reference', 'reviewer_id', name='uq_assignments_reference_reviewer_id')
    )
    op.create_index('ix_assignments_reviewer_id_reference', 'assignments', ['reviewer_id', 'reference'], unique=False)

    op.create_table('reviews',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('reference', sa.String(length=32), nullable=False),
    sa.Column('reviewer_id', sa.Integer(), nullable=False),
    sa.Column('scores', sa.JSON(), nullable=False),
    sa.Column('aggregate', sa.Double(), nullable=False),
    sa.Column('comment', sa.Text(), nullable=False),
    sa.Column('recommendation', sa.String(length=16), nullable=False),
    sa.Column('created_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['reference'], ['applications.reference'], name=op.f('fk_reviews_reference_applications'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['reviewer_id'], ['users.id'], name=op.f('fk_reviews_reviewer_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reviews')),
    sa.UniqueConstraint('reference', 'reviewer_id', name='uq_reviews_reference_reviewer_id')
    )
    op.create_index('ix_reviews_reviewer_id', 'reviews', ['reviewer_id'], unique=False)

    op.create_table('review_settings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('reviewers_per_application', sa.Integer(), server_default='2', nullable=False),
    sa.Column('blind_round', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('updated_at', shared.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_by', sa.String(length=254), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_review_settings'))
    )


def downgrade() -> None:
    op.drop_table('review_settings')
    op.drop_index('ix_reviews_reviewer_id', 'reviews')
    op.drop_table('reviews')
    op.drop_index('ix_assignments_reviewer_id_reference', 'assignments')
    op.drop_table('assignments')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('language')
    op.drop_index('ix_applications_score', 'applications')
    for column in ('reviews_assigned', 'reviews_done', 'score_spread', 'score', 'dossier_flags',
                   'blind_dossier_sha256', 'blind_dossier_pages', 'blind_dossier_key'):
        op.drop_column('applications', column)
