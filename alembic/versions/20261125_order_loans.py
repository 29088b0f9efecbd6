"""Order loans and monitoring: order_loan (with partial unique indexes against financing one order or
invoice twice), loan_disbursement, loan_repayment, loan_fund_flow, loan_delinquency, alert (one open alert
per dedup key). Account numbers only as field-encryption tokens, blind indexes and last four digits.

Revision ID: 0005_order_loans
Revises: 0005_job_runs
Create Date: 2026-11-25 10:10:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0005_order_loans'
down_revision: str | None = '0005_job_runs'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('order_loan',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('dealer_id', sa.String(length=32), nullable=False),
    sa.Column('bank_id', sa.String(length=32), nullable=False),
    sa.Column('order_id', sa.String(length=32), nullable=True),
    sa.Column('supplier_id', sa.String(length=32), nullable=True),
    sa.Column('invoice_id', sa.String(length=32), nullable=True),
    sa.Column('invoice_key', sa.String(length=48), nullable=True),
    sa.Column('line_id', sa.String(length=32), nullable=True),
    sa.Column('decision_id', sa.String(length=32), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('amount', sa.Numeric(precision=18, scale=2), nullable=False),
    sa.Column('tenor_days', sa.Integer(), nullable=False),
    sa.Column('apr', sa.Numeric(precision=12, scale=6), nullable=False),
    sa.Column('day_count', sa.String(length=8), nullable=False),
    sa.Column('upfront_fees', sa.Numeric(precision=18, scale=2), nullable=False),
    sa.Column('all_in_apr', sa.Numeric(precision=12, scale=6), nullable=False),
    sa.Column('apr_cap', sa.Numeric(precision=12, scale=6), nullable=False),
    sa.Column('lpr', sa.Numeric(precision=12, scale=6), nullable=False),
    sa.Column('lpr_effective_date', sa.Date(), nullable=False),
    sa.Column('approved_amount', sa.Numeric(precision=18, scale=2), nullable=False),
    sa.Column('reserved_held', sa.Numeric(precision=18, scale=2), nullable=False),
    sa.Column('disbursed_amount', sa.Numeric(precision=18, scale=2), nullable=False),
    sa.Column('principal_repaid', sa.Numeric(precision=18, scale=2), nullable=False),
    sa.Column('outstanding_principal', sa.Numeric(precision=18, scale=2), nullable=False),
    sa.Column('interest_paid', sa.Numeric(precision=18, scale=2), nullable=False),
    sa.Column('penalty_interest_paid', sa.Numeric(precision=18, scale=2), nullable=False),
    sa.Column('days_past_due', sa.Integer(), nullable=False),
    sa.Column('bucket', sa.String(length=8), nullable=False),
    sa.Column('applied_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('first_disbursed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('due_on', sa.Date(), nullable=True),
    sa.Column('repaid_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('defaulted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('recalled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('explanation', sa.JSON(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.CheckConstraint("bucket IN ('current', '1-30', '31-60', '61-90', '90+')", name=op.f('ck_order_loan_bucket_known')),
    sa.CheckConstraint("state IN ('applied', 'approved', 'declined', 'disbursed', 'overdue', 'defaulted', 'recalled', 'repaid', 'cancelled')", name=op.f('ck_order_loan_state_known')),
    sa.CheckConstraint('amount > 0', name=op.f('ck_order_loan_amount_positive')),
    sa.CheckConstraint('approved_amount >= 0 AND approved_amount <= amount', name=op.f('ck_order_loan_approved_range')),
    sa.CheckConstraint('days_past_due >= 0', name=op.f('ck_order_loan_dpd_non_negative')),
    sa.CheckConstraint('disbursed_amount >= 0 AND disbursed_amount <= approved_amount', name=op.f('ck_order_loan_disbursed_range')),
    sa.CheckConstraint('outstanding_principal >= 0 AND outstanding_principal <= disbursed_amount', name=op.f('ck_order_loan_outstanding_range')),
    sa.CheckConstraint('reserved_held >= 0', name=op.f('ck_order_loan_reserved_non_negative')),
    sa.CheckConstraint('tenor_days > 0', name=op.f('ck_order_loan_tenor_positive')),
    sa.ForeignKeyConstraint(['bank_id'], ['bank.id'], name=op.f('fk_order_loan_bank_id_bank')),
    sa.ForeignKeyConstraint(['dealer_id'], ['dealer.id'], name=op.f('fk_order_loan_dealer_id_dealer')),
    sa.ForeignKeyConstraint(['invoice_id'], ['invoice.id'], name=op.f('fk_order_loan_invoice_id_invoice')),
    sa.ForeignKeyConstraint(['order_id'], ['trade_order.id'], name=op.f('fk_order_loan_order_id_trade_order')),
    sa.ForeignKeyConstraint(['supplier_id'], ['supplier.id'], name=op.f('fk_order_loan_supplier_id_supplier')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_order_loan'))
    )
    with op.batch_alter_table('order_loan', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_order_loan_bank_id'), ['bank_id'], unique=False)
        batch_op.create_index('ix_order_loan_dealer_bank', ['dealer_id', 'bank_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_order_loan_invoice_key'), ['invoice_key'], unique=False)
        batch_op.create_index(batch_op.f('ix_order_loan_order_id'), ['order_id'], unique=False)
        batch_op.create_index('ix_order_loan_state', ['state'], unique=False)
        batch_op.create_index('uq_order_loan_financed_invoice', ['invoice_key'], unique=True, sqlite_where=sa.text("state IN ('approved', 'disbursed', 'overdue', 'defaulted', 'recalled', 'repaid')"), postgresql_where=sa.text("state IN ('approved', 'disbursed', 'overdue', 'defaulted', 'recalled', 'repaid')"))
        batch_op.create_index('uq_order_loan_financed_order', ['order_id'], unique=True, sqlite_where=sa.text("state IN ('approved', 'disbursed', 'overdue', 'defaulted', 'recalled', 'repaid')"), postgresql_where=sa.text("state IN ('approved', 'disbursed', 'overdue', 'defaulted', 'recalled', 'repaid')"))

    op.create_table('alert',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=48), nullable=False),
    sa.Column('severity', sa.String(length=8), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('dedup_key', sa.String(length=200), nullable=False),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('dealer_id', sa.String(length=32), nullable=True),
    sa.Column('loan_id', sa.String(length=32), nullable=True),
    sa.Column('bank_id', sa.String(length=32), nullable=True),
    sa.Column('message_zh', sa.Text(), nullable=False),
    sa.Column('message_en', sa.Text(), nullable=False),
    sa.Column('evidence', sa.JSON(), nullable=False),
    sa.Column('actions', sa.JSON(), nullable=False),
    sa.Column('actions_taken', sa.JSON(), nullable=False),
    sa.Column('occurrences', sa.Integer(), nullable=False),
    sa.Column('raised_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('escalated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resolved_by', sa.String(length=128), nullable=True),
    sa.Column('resolution', sa.String(length=16), nullable=True),
    sa.Column('resolution_reason', sa.Text(), nullable=True),
    sa.CheckConstraint("(status = 'resolved') = (resolved_at IS NOT NULL)", name=op.f('ck_alert_resolved_consistent')),
    sa.CheckConstraint("resolution IS NULL OR resolution IN ('confirmed', 'false_positive', 'remediated', 'accepted_risk')", name=op.f('ck_alert_resolution_known')),
    sa.CheckConstraint("severity IN ('info', 'warning', 'critical')", name=op.f('ck_alert_severity_known')),
    sa.CheckConstraint("source IN ('fund_usage', 'early_warning', 'delinquency')", name=op.f('ck_alert_source_known')),
    sa.CheckConstraint("status IN ('open', 'resolved')", name=op.f('ck_alert_status_known')),
    sa.ForeignKeyConstraint(['bank_id'], ['bank.id'], name=op.f('fk_alert_bank_id_bank')),
    sa.ForeignKeyConstraint(['dealer_id'], ['dealer.id'], name=op.f('fk_alert_dealer_id_dealer')),
    sa.ForeignKeyConstraint(['loan_id'], ['order_loan.id'], name=op.f('fk_alert_loan_id_order_loan')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alert'))
    )
    with op.batch_alter_table('alert', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_alert_bank_id'), ['bank_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_alert_dealer_id'), ['dealer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_alert_loan_id'), ['loan_id'], unique=False)
        batch_op.create_index('ix_alert_status_raised', ['status', 'raised_at'], unique=False)
        batch_op.create_index('uq_alert_open_dedup_key', ['dedup_key'], unique=True, sqlite_where=sa.text("status = 'open'"), postgresql_where=sa.text("status = 'open'"))

    op.create_table('loan_delinquency',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('loan_id', sa.String(length=32), nullable=False),
    sa.Column('as_of', sa.Date(), nullable=False),
    sa.Column('days_past_due', sa.Integer(), nullable=False),
    sa.Column('bucket', sa.String(length=8), nullable=False),
    sa.Column('amount_past_due', sa.Numeric(precision=18, scale=2), nullable=False),
    sa.Column('oldest_unpaid_due_on', sa.Date(), nullable=True),
    sa.Column('outstanding_principal', sa.Numeric(precision=18, scale=2), nullable=False),
    sa.Column('in_default', sa.Boolean(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('computed_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("bucket IN ('current', '1-30', '31-60', '61-90', '90+')", name=op.f('ck_loan_delinquency_bucket_known')),
    sa.CheckConstraint('days_past_due >= 0', name=op.f('ck_loan_delinquency_dpd_non_negative')),
    sa.ForeignKeyConstraint(['loan_id'], ['order_loan.id'], name=op.f('fk_loan_delinquency_loan_id_order_loan')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_loan_delinquency')),
    sa.UniqueConstraint('loan_id', 'as_of', name='uq_loan_delinquency_loan_as_of')
    )
    with op.batch_alter_table('loan_delinquency', schema=None) as batch_op:
        batch_op.create_index('ix_loan_delinquency_as_of', ['as_of', 'bucket'], unique=False)

    op.create_table('loan_disbursement',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('loan_id', sa.String(length=32), nullable=False),
    sa.Column('bank_reference', sa.String(length=64), nullable=False),
    sa.Column('amount', sa.Numeric(precision=18, scale=2), nullable=False),
    sa.Column('paid_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('payee_account_enc', sa.Text(), nullable=False),
    sa.Column('payee_account_index', sa.String(length=64), nullable=False),
    sa.Column('payee_account_last4', sa.String(length=4), nullable=False),
    sa.Column('to_supplier_account', sa.Boolean(), nullable=False),
    sa.Column('reported_by', sa.String(length=128), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('amount > 0', name=op.f('ck_loan_disbursement_amount_positive')),
    sa.ForeignKeyConstraint(['loan_id'], ['order_loan.id'], name=op.f('fk_loan_disbursement_loan_id_order_loan')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_loan_disbursement')),
    sa.UniqueConstraint('loan_id', 'bank_reference', name='uq_loan_disbursement_loan_reference')
    )
    with op.batch_alter_table('loan_disbursement', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_loan_disbursement_loan_id'), ['loan_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_loan_disbursement_payee_account_index'), ['payee_account_index'], unique=False)

    op.create_table('loan_fund_flow',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('loan_id', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('bank_reference', sa.String(length=64), nullable=False),
    sa.Column('amount', sa.Numeric(precision=18, scale=2), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('from_account_enc', sa.Text(), nullable=True),
    sa.Column('from_account_index', sa.String(length=64), nullable=True),
    sa.Column('from_account_last4', sa.String(length=4), nullable=True),
    sa.Column('to_account_enc', sa.Text(), nullable=True),
    sa.Column('to_account_index', sa.String(length=64), nullable=True),
    sa.Column('to_account_last4', sa.String(length=4), nullable=True),
    sa.Column('reported_by', sa.String(length=128), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('supplier_receipt', 'refund', 'transfer')", name=op.f('ck_loan_fund_flow_kind_known')),
    sa.CheckConstraint('amount > 0', name=op.f('ck_loan_fund_flow_amount_positive')),
    sa.ForeignKeyConstraint(['loan_id'], ['order_loan.id'], name=op.f('fk_loan_fund_flow_loan_id_order_loan')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_loan_fund_flow')),
    sa.UniqueConstraint('loan_id', 'bank_reference', name='uq_loan_fund_flow_loan_reference')
    )
    with op.batch_alter_table('loan_fund_flow', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_loan_fund_flow_loan_id'), ['loan_id'], unique=False)

    op.create_table('loan_repayment',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('loan_id', sa.String(length=32), nullable=False),
    sa.Column('bank_reference', sa.String(length=64), nullable=False),
    sa.Column('amount', sa.Numeric(precision=18, scale=2), nullable=False),
    sa.Column('paid_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('paid_on', sa.Date(), nullable=False),
    sa.Column('to_penalty_interest', sa.Numeric(precision=18, scale=2), nullable=False),
    sa.Column('to_interest', sa.Numeric(precision=18, scale=2), nullable=False),
    sa.Column('to_principal', sa.Numeric(precision=18, scale=2), nullable=False),
    sa.Column('overpayment', sa.Numeric(precision=18, scale=2), nullable=False),
    sa.Column('principal_after', sa.Numeric(precision=18, scale=2), nullable=False),
    sa.Column('reported_by', sa.String(length=128), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('amount > 0', name=op.f('ck_loan_repayment_amount_positive')),
    sa.CheckConstraint('to_penalty_interest + to_interest + to_principal + overpayment = amount', name=op.f('ck_loan_repayment_allocation_complete')),
    sa.ForeignKeyConstraint(['loan_id'], ['order_loan.id'], name=op.f('fk_loan_repayment_loan_id_order_loan')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_loan_repayment')),
    sa.UniqueConstraint('loan_id', 'bank_reference', name='uq_loan_repayment_loan_reference')
    )
    with op.batch_alter_table('loan_repayment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_loan_repayment_loan_id'), ['loan_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('loan_repayment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_loan_repayment_loan_id'))

    op.drop_table('loan_repayment')
    with op.batch_alter_table('loan_fund_flow', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_loan_fund_flow_loan_id'))

    op.drop_table('loan_fund_flow')
    with op.batch_alter_table('loan_disbursement', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_loan_disbursement_payee_account_index'))
        batch_op.drop_index(batch_op.f('ix_loan_disbursement_loan_id'))

    op.drop_table('loan_disbursement')
    with op.batch_alter_table('loan_delinquency', schema=None) as batch_op:
        batch_op.drop_index('ix_loan_delinquency_as_of')

    op.drop_table('loan_delinquency')
    with op.batch_alter_table('alert', schema=None) as batch_op:
        batch_op.drop_index('uq_alert_open_dedup_key', sqlite_where=sa.text("status = 'open'"), postgresql_where=sa.text("status = 'open'"))
        batch_op.drop_index('ix_alert_status_raised')
        batch_op.drop_index(batch_op.f('ix_alert_loan_id'))
        batch_op.drop_index(batch_op.f('ix_alert_dealer_id'))
        batch_op.drop_index(batch_op.f('ix_alert_bank_id'))

    op.drop_table('alert')
    with op.batch_alter_table('order_loan', schema=None) as batch_op:
        batch_op.drop_index('uq_order_loan_financed_order', sqlite_where=sa.text("state IN ('approved', 'disbursed', 'overdue', 'defaulted', 'recalled', 'repaid')"), postgresql_where=sa.text("state IN ('approved', 'disbursed', 'overdue', 'defaulted', 'recalled', 'repaid')"))
        batch_op.drop_index('uq_order_loan_financed_invoice', sqlite_where=sa.text("state IN ('approved', 'disbursed', 'overdue', 'defaulted', 'recalled', 'repaid')"), postgresql_where=sa.text("state IN ('approved', 'disbursed', 'overdue', 'defaulted', 'recalled', 'repaid')"))
        batch_op.drop_index('ix_order_loan_state')
        batch_op.drop_index(batch_op.f('ix_order_loan_order_id'))
        batch_op.drop_index(batch_op.f('ix_order_loan_invoice_key'))
        batch_op.drop_index('ix_order_loan_dealer_bank')
        batch_op.drop_index(batch_op.f('ix_order_loan_bank_id'))

    op.drop_table('order_loan')
