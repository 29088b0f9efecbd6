"""Foundation: parties, API clients, idempotent responses, the audit chain.

Revision ID: 0001_foundation
Revises:
Create Date: 2026-11-25 09:27:44.267099
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0001_foundation'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('audit_entry',
    sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=False, nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=128), nullable=False),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('subject_type', sa.String(length=64), nullable=False),
    sa.Column('subject_id', sa.String(length=64), nullable=False),
    sa.Column('payload', sa.Text(), nullable=False),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('entry_hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('seq', name=op.f('pk_audit_entry')),
    sa.UniqueConstraint('entry_hash', name=op.f('uq_audit_entry_entry_hash')),
    sa.UniqueConstraint('prev_hash', name=op.f('uq_audit_entry_prev_hash'))
    )
    with op.batch_alter_table('audit_entry', schema=None) as batch_op:
        batch_op.create_index('ix_audit_entry_subject', ['subject_type', 'subject_id'], unique=False)

    op.create_table('bank',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('credit_code', sa.String(length=18), nullable=False),
    sa.Column('quota', sa.Numeric(precision=18, scale=2), nullable=False),
    sa.Column('loan_to_order_ratio', sa.Numeric(precision=12, scale=6), nullable=False),
    sa.Column('min_tenor_days', sa.Integer(), nullable=False),
    sa.Column('max_tenor_days', sa.Integer(), nullable=False),
    sa.Column('apr', sa.Numeric(precision=12, scale=6), nullable=False),
    sa.Column('max_line_amount', sa.Numeric(precision=18, scale=2), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('apr >= 0', name=op.f('ck_bank_apr_non_negative')),
    sa.CheckConstraint('loan_to_order_ratio > 0 AND loan_to_order_ratio <= 1', name=op.f('ck_bank_ltor_range')),
    sa.CheckConstraint('max_line_amount > 0', name=op.f('ck_bank_max_line_positive')),
    sa.CheckConstraint('min_tenor_days > 0 AND min_tenor_days <= max_tenor_days', name=op.f('ck_bank_tenor_range')),
    sa.CheckConstraint('quota >= 0', name=op.f('ck_bank_quota_non_negative')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_bank')),
    sa.UniqueConstraint('credit_code', name=op.f('uq_bank_credit_code'))
    )
    op.create_table('guarantor',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('credit_code', sa.String(length=18), nullable=False),
    sa.Column('net_assets', sa.Numeric(precision=18, scale=2), nullable=False),
    sa.Column('serves_small_firms', sa.Boolean(), nullable=False),
    sa.Column('leverage_cap', sa.Numeric(precision=12, scale=6), nullable=False),
    sa.Column('single_client_cap', sa.Numeric(precision=12, scale=6), nullable=False),
    sa.Column('related_party_cap', sa.Numeric(precision=12, scale=6), nullable=False),
    sa.Column('coverage_ratio', sa.Numeric(precision=12, scale=6), nullable=False),
    sa.Column('guarantee_expires_on', sa.Date(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('coverage_ratio > 0 AND coverage_ratio <= 1', name=op.f('ck_guarantor_coverage_range')),
    sa.CheckConstraint('leverage_cap > 0', name=op.f('ck_guarantor_leverage_cap_positive')),
    sa.CheckConstraint('net_assets > 0', name=op.f('ck_guarantor_net_assets_positive')),
    sa.CheckConstraint('related_party_cap >= single_client_cap AND related_party_cap <= 1', name=op.f('ck_guarantor_related_cap_range')),
    sa.CheckConstraint('single_client_cap > 0 AND single_client_cap <= 1', name=op.f('ck_guarantor_single_cap_range')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_guarantor')),
    sa.UniqueConstraint('credit_code', name=op.f('uq_guarantor_credit_code'))
    )
    op.create_table('supplier',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('external_id', sa.String(length=64), nullable=True),
    sa.Column('credit_code', sa.String(length=18), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('industry', sa.String(length=64), nullable=True),
    sa.Column('whitelisted', sa.Boolean(), nullable=False),
    sa.Column('onboarded_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_supplier')),
    sa.UniqueConstraint('credit_code', name=op.f('uq_supplier_credit_code')),
    sa.UniqueConstraint('external_id', name=op.f('uq_supplier_external_id'))
    )
    op.create_table('api_client',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('bank_id', sa.String(length=32), nullable=True),
    sa.Column('key_prefix', sa.String(length=16), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("(role = 'bank') = (bank_id IS NOT NULL)", name=op.f('ck_api_client_bank_binding')),
    sa.CheckConstraint("role IN ('platform', 'bank', 'risk_officer', 'admin')", name=op.f('ck_api_client_role_known')),
    sa.ForeignKeyConstraint(['bank_id'], ['bank.id'], name=op.f('fk_api_client_bank_id_bank')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_client')),
    sa.UniqueConstraint('key_hash', name=op.f('uq_api_client_key_hash'))
    )
    op.create_table('dealer',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('external_id', sa.String(length=64), nullable=True),
    sa.Column('credit_code', sa.String(length=18), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('region', sa.String(length=64), nullable=True),
    sa.Column('industry', sa.String(length=64), nullable=True),
    sa.Column('registered_on', sa.Date(), nullable=False),
    sa.Column('licence_expires_on', sa.Date(), nullable=True),
    sa.Column('onboarded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('guarantor_id', sa.String(length=32), nullable=True),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['guarantor_id'], ['guarantor.id'], name=op.f('fk_dealer_guarantor_id_guarantor')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dealer')),
    sa.UniqueConstraint('credit_code', name=op.f('uq_dealer_credit_code')),
    sa.UniqueConstraint('external_id', name=op.f('uq_dealer_external_id'))
    )
    op.create_table('idempotency_record',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('client_id', sa.String(length=32), nullable=False),
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('method', sa.String(length=8), nullable=False),
    sa.Column('path', sa.String(length=512), nullable=False),
    sa.Column('request_hash', sa.String(length=64), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('response_status', sa.Integer(), nullable=True),
    sa.Column('response_body', sa.LargeBinary(), nullable=True),
    sa.Column('response_media_type', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('locked_until', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("state IN ('in_progress', 'completed')", name=op.f('ck_idempotency_record_state_known')),
    sa.ForeignKeyConstraint(['client_id'], ['api_client.id'], name=op.f('fk_idempotency_record_client_id_api_client')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_idempotency_record')),
    sa.UniqueConstraint('client_id', 'key', name='uq_idempotency_record_client_key')
    )
    with op.batch_alter_table('idempotency_record', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_idempotency_record_expires_at'), ['expires_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('idempotency_record', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_idempotency_record_expires_at'))

    op.drop_table('idempotency_record')
    op.drop_table('dealer')
    op.drop_table('api_client')
    op.drop_table('supplier')
    op.drop_table('guarantor')
    op.drop_table('bank')
    with op.batch_alter_table('audit_entry', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_entry_subject')

    op.drop_table('audit_entry')
