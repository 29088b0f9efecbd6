"""Credit-line ledger: one line per (dealer, bank) with CHECKed balances, every movement on it, and each
bank's allocated quota.

Revision ID: 0003_credit_ledger
Revises: 0002_compliance
Create Date: 2026-11-25 09:44:00.402455
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0003_credit_ledger'
down_revision: str | None = '0002_compliance'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('bank_allocation',
    sa.Column('bank_id', sa.String(length=32), nullable=False),
    sa.Column('allocated', sa.Numeric(precision=18, scale=2), nullable=False),
    sa.CheckConstraint('allocated >= 0', name=op.f('ck_bank_allocation_allocated_non_negative')),
    sa.ForeignKeyConstraint(['bank_id'], ['bank.id'], name=op.f('fk_bank_allocation_bank_id_bank')),
    sa.PrimaryKeyConstraint('bank_id', name=op.f('pk_bank_allocation'))
    )
    op.create_table('credit_line',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('dealer_id', sa.String(length=32), nullable=False),
    sa.Column('bank_id', sa.String(length=32), nullable=False),
    sa.Column('limit_amount', sa.Numeric(precision=18, scale=2), nullable=False),
    sa.Column('reserved', sa.Numeric(precision=18, scale=2), nullable=False),
    sa.Column('utilised', sa.Numeric(precision=18, scale=2), nullable=False),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('expires_on', sa.Date(), nullable=True),
    sa.Column('grade', sa.String(length=8), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('active', 'frozen', 'closed')", name=op.f('ck_credit_line_status_known')),
    sa.CheckConstraint('limit_amount >= 0', name=op.f('ck_credit_line_limit_non_negative')),
    sa.CheckConstraint('reserved >= 0', name=op.f('ck_credit_line_reserved_non_negative')),
    sa.CheckConstraint('utilised >= 0', name=op.f('ck_credit_line_utilised_non_negative')),
    sa.CheckConstraint('version >= 1', name=op.f('ck_credit_line_version_positive')),
    sa.ForeignKeyConstraint(['bank_id'], ['bank.id'], name=op.f('fk_credit_line_bank_id_bank')),
    sa.ForeignKeyConstraint(['dealer_id'], ['dealer.id'], name=op.f('fk_credit_line_dealer_id_dealer')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_credit_line')),
    sa.UniqueConstraint('dealer_id', 'bank_id', name='uq_credit_line_dealer_bank')
    )
    with op.batch_alter_table('credit_line', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_credit_line_bank_id'), ['bank_id'], unique=False)

    op.create_table('credit_movement',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('line_id', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('amount', sa.Numeric(precision=18, scale=2), nullable=False),
    sa.Column('limit_before', sa.Numeric(precision=18, scale=2), nullable=False),
    sa.Column('limit_after', sa.Numeric(precision=18, scale=2), nullable=False),
    sa.Column('reserved_before', sa.Numeric(precision=18, scale=2), nullable=False),
    sa.Column('reserved_after', sa.Numeric(precision=18, scale=2), nullable=False),
    sa.Column('utilised_before', sa.Numeric(precision=18, scale=2), nullable=False),
    sa.Column('utilised_after', sa.Numeric(precision=18, scale=2), nullable=False),
    sa.Column('status_before', sa.String(length=8), nullable=False),
    sa.Column('status_after', sa.String(length=8), nullable=False),
    sa.Column('caused_by_type', sa.String(length=32), nullable=False),
    sa.Column('caused_by_id', sa.String(length=64), nullable=False),
    sa.Column('actor', sa.String(length=128), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('audit_seq', sa.Integer(), nullable=True),
    sa.CheckConstraint("kind IN ('open', 'reserve', 'release', 'utilise', 'repay', 'adjust', 'renew', 'freeze', 'unfreeze', 'close', 'reopen')", name=op.f('ck_credit_movement_kind_known')),
    sa.CheckConstraint('amount >= 0', name=op.f('ck_credit_movement_amount_non_negative')),
    sa.ForeignKeyConstraint(['line_id'], ['credit_line.id'], name=op.f('fk_credit_movement_line_id_credit_line')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_credit_movement'))
    )
    with op.batch_alter_table('credit_movement', schema=None) as batch_op:
        batch_op.create_index('ix_credit_movement_cause', ['caused_by_type', 'caused_by_id'], unique=False)
        batch_op.create_index('ix_credit_movement_line_id', ['line_id', 'id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('credit_movement', schema=None) as batch_op:
        batch_op.drop_index('ix_credit_movement_line_id')
        batch_op.drop_index('ix_credit_movement_cause')

    op.drop_table('credit_movement')
    with op.batch_alter_table('credit_line', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_credit_line_bank_id'))

    op.drop_table('credit_line')
    op.drop_table('bank_allocation')
