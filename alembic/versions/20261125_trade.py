"""Trade: orders, bills and payments, invoices, deliveries, returns, related-party links, event log.

Revision ID: 0002_trade
Revises: 0001_foundation
Create Date: 2026-11-25 09:37:05.129342
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0002_trade'
down_revision: str | None = '0001_foundation'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('trade_event',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('external_id', sa.String(length=64), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('subject_id', sa.String(length=32), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_trade_event')),
    sa.UniqueConstraint('kind', 'external_id', name='uq_trade_event_kind_external_id')
    )
    op.create_table('related_party_link',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('external_id', sa.String(length=64), nullable=False),
    sa.Column('dealer_id', sa.String(length=32), nullable=False),
    sa.Column('supplier_id', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('evidence', sa.Text(), nullable=True),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('shared_owner','legal_representative','address','account')", name=op.f('ck_related_party_link_kind_known')),
    sa.ForeignKeyConstraint(['dealer_id'], ['dealer.id'], name=op.f('fk_related_party_link_dealer_id_dealer')),
    sa.ForeignKeyConstraint(['supplier_id'], ['supplier.id'], name=op.f('fk_related_party_link_supplier_id_supplier')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_related_party_link')),
    sa.UniqueConstraint('dealer_id', 'supplier_id', 'kind', name='uq_related_party_link_pair_kind'),
    sa.UniqueConstraint('external_id', name=op.f('uq_related_party_link_external_id'))
    )
    with op.batch_alter_table('related_party_link', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_related_party_link_dealer_id'), ['dealer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_related_party_link_supplier_id'), ['supplier_id'], unique=False)

    op.create_table('trade_order',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('external_id', sa.String(length=64), nullable=False),
    sa.Column('dealer_id', sa.String(length=32), nullable=False),
    sa.Column('supplier_id', sa.String(length=32), nullable=False),
    sa.Column('amount', sa.Numeric(precision=18, scale=2), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('placed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('confirmed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('shipped_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('returned_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('placed','confirmed','shipped','delivered','cancelled','returned')", name=op.f('ck_trade_order_status_known')),
    sa.CheckConstraint('amount > 0', name=op.f('ck_trade_order_amount_positive')),
    sa.ForeignKeyConstraint(['dealer_id'], ['dealer.id'], name=op.f('fk_trade_order_dealer_id_dealer')),
    sa.ForeignKeyConstraint(['supplier_id'], ['supplier.id'], name=op.f('fk_trade_order_supplier_id_supplier')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_trade_order')),
    sa.UniqueConstraint('external_id', name=op.f('uq_trade_order_external_id'))
    )
    with op.batch_alter_table('trade_order', schema=None) as batch_op:
        batch_op.create_index('ix_trade_order_dealer_placed', ['dealer_id', 'placed_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_trade_order_supplier_id'), ['supplier_id'], unique=False)

    op.create_table('delivery',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('external_id', sa.String(length=64), nullable=False),
    sa.Column('order_id', sa.String(length=32), nullable=False),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('carrier', sa.String(length=100), nullable=True),
    sa.Column('tracking_number', sa.String(length=64), nullable=True),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['trade_order.id'], name=op.f('fk_delivery_order_id_trade_order')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_delivery')),
    sa.UniqueConstraint('external_id', name=op.f('uq_delivery_external_id'))
    )
    with op.batch_alter_table('delivery', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_delivery_order_id'), ['order_id'], unique=False)

    op.create_table('invoice',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('external_id', sa.String(length=64), nullable=False),
    sa.Column('order_id', sa.String(length=32), nullable=False),
    sa.Column('invoice_code', sa.String(length=20), nullable=False),
    sa.Column('invoice_number', sa.String(length=20), nullable=False),
    sa.Column('seller_credit_code', sa.String(length=18), nullable=False),
    sa.Column('buyer_credit_code', sa.String(length=18), nullable=False),
    sa.Column('amount', sa.Numeric(precision=18, scale=2), nullable=False),
    sa.Column('tax', sa.Numeric(precision=18, scale=2), nullable=False),
    sa.Column('issued_on', sa.Date(), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('amount > 0', name=op.f('ck_invoice_amount_positive')),
    sa.CheckConstraint('tax >= 0', name=op.f('ck_invoice_tax_non_negative')),
    sa.ForeignKeyConstraint(['order_id'], ['trade_order.id'], name=op.f('fk_invoice_order_id_trade_order')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invoice')),
    sa.UniqueConstraint('external_id', name=op.f('uq_invoice_external_id')),
    sa.UniqueConstraint('invoice_code', 'invoice_number', name='uq_invoice_code_number')
    )
    with op.batch_alter_table('invoice', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_invoice_order_id'), ['order_id'], unique=False)

    op.create_table('payment_due',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('external_id', sa.String(length=64), nullable=False),
    sa.Column('order_id', sa.String(length=32), nullable=False),
    sa.Column('dealer_id', sa.String(length=32), nullable=False),
    sa.Column('amount', sa.Numeric(precision=18, scale=2), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('paid_amount', sa.Numeric(precision=18, scale=2), nullable=False),
    sa.Column('paid_on', sa.Date(), nullable=True),
    sa.Column('paid_recorded_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('amount > 0', name=op.f('ck_payment_due_amount_positive')),
    sa.CheckConstraint('paid_amount >= 0', name=op.f('ck_payment_due_paid_non_negative')),
    sa.ForeignKeyConstraint(['dealer_id'], ['dealer.id'], name=op.f('fk_payment_due_dealer_id_dealer')),
    sa.ForeignKeyConstraint(['order_id'], ['trade_order.id'], name=op.f('fk_payment_due_order_id_trade_order')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payment_due')),
    sa.UniqueConstraint('external_id', name=op.f('uq_payment_due_external_id'))
    )
    with op.batch_alter_table('payment_due', schema=None) as batch_op:
        batch_op.create_index('ix_payment_due_dealer_due', ['dealer_id', 'due_on'], unique=False)
        batch_op.create_index(batch_op.f('ix_payment_due_order_id'), ['order_id'], unique=False)

    op.create_table('trade_return',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('external_id', sa.String(length=64), nullable=False),
    sa.Column('order_id', sa.String(length=32), nullable=False),
    sa.Column('dealer_id', sa.String(length=32), nullable=False),
    sa.Column('amount', sa.Numeric(precision=18, scale=2), nullable=False),
    sa.Column('returned_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('amount > 0', name=op.f('ck_trade_return_amount_positive')),
    sa.ForeignKeyConstraint(['dealer_id'], ['dealer.id'], name=op.f('fk_trade_return_dealer_id_dealer')),
    sa.ForeignKeyConstraint(['order_id'], ['trade_order.id'], name=op.f('fk_trade_return_order_id_trade_order')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_trade_return')),
    sa.UniqueConstraint('external_id', name=op.f('uq_trade_return_external_id'))
    )
    with op.batch_alter_table('trade_return', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_trade_return_dealer_id'), ['dealer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_trade_return_order_id'), ['order_id'], unique=False)

    op.create_table('payment',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('external_id', sa.String(length=64), nullable=False),
    sa.Column('payment_due_id', sa.String(length=32), nullable=False),
    sa.Column('dealer_id', sa.String(length=32), nullable=False),
    sa.Column('amount', sa.Numeric(precision=18, scale=2), nullable=False),
    sa.Column('paid_on', sa.Date(), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('amount > 0', name=op.f('ck_payment_amount_positive')),
    sa.ForeignKeyConstraint(['dealer_id'], ['dealer.id'], name=op.f('fk_payment_dealer_id_dealer')),
    sa.ForeignKeyConstraint(['payment_due_id'], ['payment_due.id'], name=op.f('fk_payment_payment_due_id_payment_due')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payment')),
    sa.UniqueConstraint('external_id', name=op.f('uq_payment_external_id'))
    )
    with op.batch_alter_table('payment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payment_dealer_id'), ['dealer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_payment_payment_due_id'), ['payment_due_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('payment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_payment_payment_due_id'))
        batch_op.drop_index(batch_op.f('ix_payment_dealer_id'))

    op.drop_table('payment')
    with op.batch_alter_table('trade_return', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_trade_return_order_id'))
        batch_op.drop_index(batch_op.f('ix_trade_return_dealer_id'))

    op.drop_table('trade_return')
    with op.batch_alter_table('payment_due', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_payment_due_order_id'))
        batch_op.drop_index('ix_payment_due_dealer_due')

    op.drop_table('payment_due')
    with op.batch_alter_table('invoice', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_invoice_order_id'))

    op.drop_table('invoice')
    with op.batch_alter_table('delivery', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_delivery_order_id'))

    op.drop_table('delivery')
    with op.batch_alter_table('trade_order', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_trade_order_supplier_id'))
        batch_op.drop_index('ix_trade_order_dealer_placed')

    op.drop_table('trade_order')
    with op.batch_alter_table('related_party_link', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_related_party_link_supplier_id'))
        batch_op.drop_index(batch_op.f('ix_related_party_link_dealer_id'))

    op.drop_table('related_party_link')
    op.drop_table('trade_event')
