"""incident store

Revision ID: 0001
Revises: 
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None


def upgrade() -> None:
    op.create_table('load_batches',
    sa.Column('batch_id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('source_file', sa.Text(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('reader', sa.String(length=64), nullable=False),
    sa.Column('loaded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('rows_read', sa.Integer(), nullable=False),
    sa.Column('rows_loaded', sa.Integer(), nullable=False),
    sa.Column('rows_already_stored', sa.Integer(), nullable=False),
    sa.Column('rows_rejected', sa.Integer(), nullable=False),
    sa.Column('warnings', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('batch_id', name=op.f('pk_load_batches')),
    sa.UniqueConstraint('sha256', name=op.f('uq_load_batches_sha256'))
    )
    op.create_table('store_meta',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_store_meta'))
    )
    op.create_table('incidents',
    sa.Column('incident_id', sa.String(length=80), nullable=False),
    sa.Column('batch_id', sa.Integer(), nullable=False),
    sa.Column('source_line', sa.BigInteger(), nullable=False),
    sa.Column('source_id', sa.String(length=64), nullable=True),
    sa.Column('occurred_from', sa.DateTime(timezone=True), nullable=False),
    sa.Column('occurred_to', sa.DateTime(timezone=True), nullable=False),
    sa.Column('time_precision', sa.String(length=8), nullable=False),
    sa.Column('lon', sa.Float(), nullable=False),
    sa.Column('lat', sa.Float(), nullable=False),
    sa.Column('x', sa.Float(), nullable=False),
    sa.Column('y', sa.Float(), nullable=False),
    sa.Column('h3_cell', sa.String(length=16), nullable=False),
    sa.Column('offence', sa.String(length=48), nullable=False),
    sa.Column('offence_group', sa.String(length=48), nullable=False),
    sa.Column('source_offence', sa.String(length=120), nullable=True),
    sa.Column('knife_enabled', sa.Boolean(), nullable=True),
    sa.Column('victim_under_25', sa.Boolean(), nullable=True),
    sa.Column('harm_weight', sa.Float(), nullable=False),
    sa.Column('location', sa.String(length=200), nullable=True),
    sa.Column('lsoa_code', sa.String(length=16), nullable=True),
    sa.ForeignKeyConstraint(['batch_id'], ['load_batches.batch_id'], name=op.f('fk_incidents_batch_id_load_batches')),
    sa.PrimaryKeyConstraint('incident_id', name=op.f('pk_incidents'))
    )
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_incidents_batch_id'), ['batch_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_incidents_h3_cell'), ['h3_cell'], unique=False)
        batch_op.create_index(batch_op.f('ix_incidents_occurred_from'), ['occurred_from'], unique=False)

    op.create_table('rejected_rows',
    sa.Column('reject_id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('batch_id', sa.Integer(), nullable=False),
    sa.Column('source_file', sa.Text(), nullable=False),
    sa.Column('line', sa.BigInteger(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('raw', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['batch_id'], ['load_batches.batch_id'], name=op.f('fk_rejected_rows_batch_id_load_batches')),
    sa.PrimaryKeyConstraint('reject_id', name=op.f('pk_rejected_rows'))
    )
    with op.batch_alter_table('rejected_rows', schema=None) as batch_op:
        batch_op.create_index('ix_rejected_rows_batch_line', ['batch_id', 'line'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('rejected_rows', schema=None) as batch_op:
        batch_op.drop_index('ix_rejected_rows_batch_line')

    op.drop_table('rejected_rows')
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_incidents_occurred_from'))
        batch_op.drop_index(batch_op.f('ix_incidents_h3_cell'))
        batch_op.drop_index(batch_op.f('ix_incidents_batch_id'))

    op.drop_table('incidents')
    op.drop_table('store_meta')
    op.drop_table('load_batches')
