"""workbench: search and order indexes for the list, audit log indexes, and the audit log made append-only

Revision ID: 0005
Revises: 0004
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

AUDIT_INDEXES = {
    'ix_audit_entries_at': ['at'],
    'ix_audit_entries_actor_at': ['actor', 'at'],
    'ix_audit_entries_action_at': ['action', 'at'],
}
# PostgreSQL only (SQLite has neither trigrams nor NULLS LAST in an index, and holds a developer's data)
SEARCH_INDEXES = {'ix_applications_lower_name': 'name', 'ix_applications_lower_reference': 'reference'}
ORDER_INDEXES = {'ix_applications_submitted_at_desc': 'submitted_at', 'ix_applications_score_desc': 'score'}


def upgrade() -> None:
    for name, columns in AUDIT_INDEXES.items():
        op.create_index(name, 'audit_entries', columns)
    if op.get_bind().dialect.name != 'postgresql':
        return
    # trigram indexes serve lower(column) LIKE '%text%', the list's search
    op.execute('CREATE EXTENSION IF NOT EXISTS pg_trgm')
    for name, column in SEARCH_INDEXES.items():
        op.create_index(name, 'applications', [sa.text(f'lower({column})')],
                        postgresql_using='gin', postgresql_ops={f'lower({column})': 'gin_trgm_ops'})
    # newest first and best first, with the undated and unscored last
    for name, column in ORDER_INDEXES.items():
        op.create_index(name, 'applications', [sa.text(f'{column} DESC NULLS LAST'), sa.text('id DESC')])
    # the audit log is append-only, whatever the client: no UPDATE, DELETE or TRUNCATE of its rows
    op.execute("""
        CREATE FUNCTION audit_entries_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'audit_entries is append-only (% refused)', TG_OP
                USING ERRCODE = 'insufficient_privilege';
        END $$""")
    op.execute("""
        CREATE TRIGGER audit_entries_append_only BEFORE UPDATE OR DELETE ON audit_entries
        FOR EACH ROW EXECUTE FUNCTION audit_entries_append_only()""")
    op.execute("""
        CREATE TRIGGER audit_entries_no_truncate BEFORE TRUNCATE ON audit_entries
        FOR EACH STATEMENT EXECUTE FUNCTION audit_entries_append_only()""")


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('DROP TRIGGER audit_entries_no_truncate ON audit_entries')
        op.execute('DROP TRIGGER audit_entries_append_only ON audit_entries')
        op.execute('DROP FUNCTION audit_entries_append_only()')
        for name in (*SEARCH_INDEXES, *ORDER_INDEXES):
            op.drop_index(name, 'applications')
    for name in AUDIT_INDEXES:
        op.drop_index(name, 'audit_entries')
