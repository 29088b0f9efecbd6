"""Compliance: signed audit checkpoints, dealer consents, the access log, encrypted personal data
(legal representative and account numbers as field-encryption tokens, with blind indexes), erasure.

Additive and reversible: new tables, and nullable columns on dealer and supplier (rows onboarded before
this revision simply hold no personal data).

Revision ID: 0002_compliance
Revises: 0002_trade
Create Date: 2026-11-25 09:43:30.594424
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0002_compliance'
down_revision: str | None = '0002_trade'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('access_log',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('accessed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('client_id', sa.String(length=32), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('subject_type', sa.String(length=64), nullable=False),
    sa.Column('subject_id', sa.String(length=64), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('purpose', sa.String(length=128), nullable=True),
    sa.Column('path', sa.String(length=512), nullable=True),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.CheckConstraint("outcome IN ('granted', 'denied', 'not_found')", name=op.f('ck_access_log_outcome_known')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_access_log'))
    )
    with op.batch_alter_table('access_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_access_log_accessed_at'), ['accessed_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_access_log_client_id'), ['client_id'], unique=False)
        batch_op.create_index('ix_access_log_subject', ['subject_type', 'subject_id'], unique=False)

    op.create_table('audit_checkpoint',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('tree_size', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('root_hash', sa.String(length=64), nullable=False),
    sa.Column('timestamp_ms', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('kid', sa.String(length=64), nullable=False),
    sa.Column('jws', sa.Text(), nullable=False),
    sa.CheckConstraint('tree_size >= 0', name=op.f('ck_audit_checkpoint_tree_size_non_negative')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_checkpoint')),
    sa.UniqueConstraint('tree_size', name=op.f('uq_audit_checkpoint_tree_size'))
    )
    op.create_table('dealer_consent',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('dealer_id', sa.String(length=32), nullable=False),
    sa.Column('purpose', sa.String(length=32), nullable=False),
    sa.Column('scope', sa.Text(), nullable=False),
    sa.Column('evidence_ref', sa.String(length=256), nullable=False),
    sa.Column('granted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revocation_reason', sa.Text(), nullable=True),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('recorded_by', sa.String(length=128), nullable=False),
    sa.CheckConstraint("purpose IN ('credit_scoring', 'data_sharing_with_bank', 'loan_monitoring')", name=op.f('ck_dealer_consent_purpose_known')),
    sa.CheckConstraint('expires_at IS NULL OR expires_at > granted_at', name=op.f('ck_dealer_consent_expiry_after_grant')),
    sa.ForeignKeyConstraint(['dealer_id'], ['dealer.id'], name=op.f('fk_dealer_consent_dealer_id_dealer')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dealer_consent'))
    )
    with op.batch_alter_table('dealer_consent', schema=None) as batch_op:
        batch_op.create_index('ix_dealer_consent_dealer_purpose', ['dealer_id', 'purpose'], unique=False)

    with op.batch_alter_table('dealer', schema=None) as batch_op:
        batch_op.add_column(sa.Column('legal_rep_name_enc', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('legal_rep_id_number_enc', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('legal_rep_id_number_index', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('legal_rep_phone_enc', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('account_number_enc', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('account_number_index', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('erased_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f('ix_dealer_account_number_index'), ['account_number_index'], unique=False)
        batch_op.create_index(batch_op.f('ix_dealer_legal_rep_id_number_index'), ['legal_rep_id_number_index'], unique=False)

    with op.batch_alter_table('supplier', schema=None) as batch_op:
        batch_op.add_column(sa.Column('account_number_enc', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('account_number_index', sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f('ix_supplier_account_number_index'), ['account_number_index'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('supplier', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_supplier_account_number_index'))
        batch_op.drop_column('account_number_index')
        batch_op.drop_column('account_number_enc')

    with op.batch_alter_table('dealer', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_dealer_legal_rep_id_number_index'))
        batch_op.drop_index(batch_op.f('ix_dealer_account_number_index'))
        batch_op.drop_column('erased_at')
        batch_op.drop_column('account_number_index')
        batch_op.drop_column('account_number_enc')
        batch_op.drop_column('legal_rep_phone_enc')
        batch_op.drop_column('legal_rep_id_number_index')
        batch_op.drop_column('legal_rep_id_number_enc')
        batch_op.drop_column('legal_rep_name_enc')

    with op.batch_alter_table('dealer_consent', schema=None) as batch_op:
        batch_op.drop_index('ix_dealer_consent_dealer_purpose')

    op.drop_table('dealer_consent')
    op.drop_table('audit_checkpoint')
    with op.batch_alter_table('access_log', schema=None) as batch_op:
        batch_op.drop_index('ix_access_log_subject')
        batch_op.drop_index(batch_op.f('ix_access_log_client_id'))
        batch_op.drop_index(batch_op.f('ix_access_log_accessed_at'))

    op.drop_table('access_log')
