"""PostgreSQL announces every change to the API tokens (NOTIFY hotspots_tokens).

A serving process keeps the principals of the tokens it has seen, so that a request does not
wait on a database round trip to learn who is calling, and drops them all when this channel
says the table changed (a revocation, from any process). The trigger is on the table, not in the
code that revokes, so a change made by hand in psql is announced too. SQLite has no such channel
and needs none: a server on SQLite reads the token on each request (hotspots.store.principals).

Revision ID: 0013
Revises: 0012
"""

from alembic import op

revision = "0013"
down_revision = "0012"

CHANNEL = "hotspots_tokens"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"""CREATE OR REPLACE FUNCTION hotspots_tokens_changed() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN PERFORM pg_notify('{CHANNEL}', ''); RETURN NULL; END $$""")
    op.execute("CREATE TRIGGER api_tokens_changed AFTER UPDATE OR DELETE OR TRUNCATE ON api_tokens "
               "FOR EACH STATEMENT EXECUTE FUNCTION hotspots_tokens_changed()")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS api_tokens_changed ON api_tokens")
    op.execute("DROP FUNCTION IF EXISTS hotspots_tokens_changed()")
