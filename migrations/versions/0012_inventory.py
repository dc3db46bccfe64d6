"""inventory and controlled drugs (helper D)

Revision ID: 0012_inventory
Revises: 0011_dispensing
Create Date: 2026-11-22 20:10:00
"""
from alembic import op
import sqlalchemy as sa
import app.core.db


revision = '0012_inventory'
down_revision = '0011_dispensing'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('goods_receipt',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=16), nullable=False),
    sa.Column('supplier', sa.String(length=120), nullable=False),
    sa.Column('delivery_reference', sa.String(length=60), nullable=False),
    sa.Column('location_id', sa.Integer(), nullable=False),
    sa.Column('received_by_id', sa.Integer(), nullable=True),
    sa.Column('received_by_label', sa.String(length=120), nullable=False),
    sa.Column('witness_id', sa.Integer(), nullable=True),
    sa.Column('received_at', app.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('witness_id <> received_by_id', name=op.f('ck_goods_receipt_witness_is_second_person')),
    sa.ForeignKeyConstraint(['location_id'], ['stock_location.id'], name=op.f('fk_goods_receipt_location_id_stock_location')),
    sa.ForeignKeyConstraint(['received_by_id'], ['user_account.id'], name=op.f('fk_goods_receipt_received_by_id_user_account')),
    sa.ForeignKeyConstraint(['witness_id'], ['user_account.id'], name=op.f('fk_goods_receipt_witness_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_goods_receipt')),
    sa.UniqueConstraint('number', name=op.f('uq_goods_receipt_number'))
    )
    with op.batch_alter_table('goods_receipt', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_goods_receipt_received_at'), ['received_at'], unique=False)

    op.create_table('goods_receipt_line',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('receipt_id', sa.Integer(), nullable=False),
    sa.Column('batch_id', sa.Integer(), nullable=False),
    sa.Column('movement_id', sa.Integer(), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('unit_cost', sa.Numeric(precision=12, scale=4), nullable=False),
    sa.ForeignKeyConstraint(['batch_id'], ['stock_batch.id'], name=op.f('fk_goods_receipt_line_batch_id_stock_batch')),
    sa.ForeignKeyConstraint(['movement_id'], ['stock_movement.id'], name=op.f('fk_goods_receipt_line_movement_id_stock_movement')),
    sa.ForeignKeyConstraint(['receipt_id'], ['goods_receipt.id'], name=op.f('fk_goods_receipt_line_receipt_id_goods_receipt')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_goods_receipt_line'))
    )
    with op.batch_alter_table('goods_receipt_line', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_goods_receipt_line_receipt_id'), ['receipt_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_goods_receipt_line_batch_id'), ['batch_id'], unique=False)

    op.create_table('stock_transfer',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=16), nullable=False),
    sa.Column('drug_id', sa.Integer(), nullable=False),
    sa.Column('from_location_id', sa.Integer(), nullable=False),
    sa.Column('to_location_id', sa.Integer(), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('actor_label', sa.String(length=120), nullable=False),
    sa.Column('witness_id', sa.Integer(), nullable=True),
    sa.Column('at', app.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['user_account.id'], name=op.f('fk_stock_transfer_actor_id_user_account')),
    sa.ForeignKeyConstraint(['drug_id'], ['drug.id'], name=op.f('fk_stock_transfer_drug_id_drug')),
    sa.ForeignKeyConstraint(['from_location_id'], ['stock_location.id'], name=op.f('fk_stock_transfer_from_location_id_stock_location')),
    sa.ForeignKeyConstraint(['to_location_id'], ['stock_location.id'], name=op.f('fk_stock_transfer_to_location_id_stock_location')),
    sa.ForeignKeyConstraint(['witness_id'], ['user_account.id'], name=op.f('fk_stock_transfer_witness_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stock_transfer')),
    sa.UniqueConstraint('number', name=op.f('uq_stock_transfer_number'))
    )
    with op.batch_alter_table('stock_transfer', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_stock_transfer_at'), ['at'], unique=False)

    op.create_table('stock_transfer_line',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('transfer_id', sa.Integer(), nullable=False),
    sa.Column('from_batch_id', sa.Integer(), nullable=False),
    sa.Column('to_batch_id', sa.Integer(), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['from_batch_id'], ['stock_batch.id'], name=op.f('fk_stock_transfer_line_from_batch_id_stock_batch')),
    sa.ForeignKeyConstraint(['to_batch_id'], ['stock_batch.id'], name=op.f('fk_stock_transfer_line_to_batch_id_stock_batch')),
    sa.ForeignKeyConstraint(['transfer_id'], ['stock_transfer.id'], name=op.f('fk_stock_transfer_line_transfer_id_stock_transfer')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stock_transfer_line'))
    )
    with op.batch_alter_table('stock_transfer_line', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_stock_transfer_line_transfer_id'), ['transfer_id'], unique=False)

    op.create_table('reorder_level',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('drug_id', sa.Integer(), nullable=False),
    sa.Column('location_id', sa.Integer(), nullable=False),
    sa.Column('minimum', sa.Integer(), nullable=False),
    sa.Column('reorder_quantity', sa.Integer(), nullable=False),
    sa.Column('created_at', app.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', app.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['drug_id'], ['drug.id'], name=op.f('fk_reorder_level_drug_id_drug')),
    sa.ForeignKeyConstraint(['location_id'], ['stock_location.id'], name=op.f('fk_reorder_level_location_id_stock_location')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reorder_level')),
    sa.UniqueConstraint('drug_id', 'location_id', name=op.f('uq_reorder_level_drug_id'))
    )

    op.create_table('stock_count',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('location_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('opened_by_id', sa.Integer(), nullable=True),
    sa.Column('opened_by_label', sa.String(length=120), nullable=False),
    sa.Column('opened_at', app.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('closed_by_id', sa.Integer(), nullable=True),
    sa.Column('closed_by_label', sa.String(length=120), nullable=True),
    sa.Column('closed_at', app.core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('witness_id', sa.Integer(), nullable=True),
    sa.CheckConstraint('witness_id <> closed_by_id', name=op.f('ck_stock_count_witness_is_second_person')),
    sa.ForeignKeyConstraint(['closed_by_id'], ['user_account.id'], name=op.f('fk_stock_count_closed_by_id_user_account')),
    sa.ForeignKeyConstraint(['location_id'], ['stock_location.id'], name=op.f('fk_stock_count_location_id_stock_location')),
    sa.ForeignKeyConstraint(['opened_by_id'], ['user_account.id'], name=op.f('fk_stock_count_opened_by_id_user_account')),
    sa.ForeignKeyConstraint(['witness_id'], ['user_account.id'], name=op.f('fk_stock_count_witness_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stock_count'))
    )
    with op.batch_alter_table('stock_count', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_stock_count_location_id'), ['location_id'], unique=False)

    op.create_table('stock_count_line',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('count_id', sa.Integer(), nullable=False),
    sa.Column('batch_id', sa.Integer(), nullable=False),
    sa.Column('expected', sa.Integer(), nullable=False),
    sa.Column('counted', sa.Integer(), nullable=True),
    sa.Column('variance', sa.Integer(), nullable=True),
    sa.Column('movement_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['batch_id'], ['stock_batch.id'], name=op.f('fk_stock_count_line_batch_id_stock_batch')),
    sa.ForeignKeyConstraint(['count_id'], ['stock_count.id'], name=op.f('fk_stock_count_line_count_id_stock_count')),
    sa.ForeignKeyConstraint(['movement_id'], ['stock_movement.id'], name=op.f('fk_stock_count_line_movement_id_stock_movement')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stock_count_line')),
    sa.UniqueConstraint('count_id', 'batch_id', name=op.f('uq_stock_count_line_count_id'))
    )
    with op.batch_alter_table('stock_count_line', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_stock_count_line_count_id'), ['count_id'], unique=False)

    op.create_table('controlled_drug_check',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('drug_id', sa.Integer(), nullable=False),
    sa.Column('location_id', sa.Integer(), nullable=False),
    sa.Column('expected', sa.Integer(), nullable=False),
    sa.Column('counted', sa.Integer(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('actor_id', sa.Integer(), nullable=False),
    sa.Column('witness_id', sa.Integer(), nullable=False),
    sa.Column('at', app.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('witness_id <> actor_id', name=op.f('ck_controlled_drug_check_witness_is_second_person')),
    sa.ForeignKeyConstraint(['actor_id'], ['user_account.id'], name=op.f('fk_controlled_drug_check_actor_id_user_account')),
    sa.ForeignKeyConstraint(['drug_id'], ['drug.id'], name=op.f('fk_controlled_drug_check_drug_id_drug')),
    sa.ForeignKeyConstraint(['location_id'], ['stock_location.id'], name=op.f('fk_controlled_drug_check_location_id_stock_location')),
    sa.ForeignKeyConstraint(['witness_id'], ['user_account.id'], name=op.f('fk_controlled_drug_check_witness_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_controlled_drug_check'))
    )

    op.create_table('stock_alert_run',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('low_stock', sa.Integer(), nullable=False),
    sa.Column('expiring', sa.Integer(), nullable=False),
    sa.Column('expired', sa.Integer(), nullable=False),
    sa.Column('ran_at', app.core.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stock_alert_run')),
    sa.UniqueConstraint('day', name=op.f('uq_stock_alert_run_day'))
    )


def downgrade():
    op.drop_table('stock_alert_run')
    op.drop_table('controlled_drug_check')
    with op.batch_alter_table('stock_count_line', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_stock_count_line_count_id'))
    op.drop_table('stock_count_line')
    with op.batch_alter_table('stock_count', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_stock_count_location_id'))
    op.drop_table('stock_count')
    op.drop_table('reorder_level')
    with op.batch_alter_table('stock_transfer_line', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_stock_transfer_line_transfer_id'))
    op.drop_table('stock_transfer_line')
    with op.batch_alter_table('stock_transfer', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_stock_transfer_at'))
    op.drop_table('stock_transfer')
    with op.batch_alter_table('goods_receipt_line', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_goods_receipt_line_batch_id'))
        batch_op.drop_index(batch_op.f('ix_goods_receipt_line_receipt_id'))
    op.drop_table('goods_receipt_line')
    with op.batch_alter_table('goods_receipt', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_goods_receipt_received_at'))
    op.drop_table('goods_receipt')
