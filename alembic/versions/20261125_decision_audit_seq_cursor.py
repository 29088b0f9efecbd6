"""Decisions: an index for the banks' `after_seq` polling cursor (audit sequence numbers, in commit order).

Revision ID: 0009_decision_seq_cursor
Revises: 0008_order_cancel_known
Create Date: 2026-11-25 18:00:00
"""
from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = '0009_decision_seq_cursor'
down_revision: str | None = '0008_order_cancel_known'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('decision', schema=None) as batch_op:
        batch_op.create_index('ix_decision_bank_audit_seq', ['bank_id', 'audit_seq'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('decision', schema=None) as batch_op:
        batch_op.drop_index('ix_decision_bank_audit_seq')
