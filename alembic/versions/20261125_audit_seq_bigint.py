"""Every column pointing at an audit entry is 64-bit like the entry's own ``seq`` (``audit_entry.seq`` is
BIGINT on PostgreSQL; these copies were INTEGER, so a trail past 2^31 entries could not be referenced and a
polling cursor above that answered 500). SQLite's INTEGER is 64-bit already: nothing changes there.

Revision ID: 0013_audit_seq_bigint
Revises: 0012_lpr_records
Create Date: 2026-11-25 21:00:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0013_audit_seq_bigint'
down_revision: str | None = '0012_lpr_records'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ('decision', 'credit_movement', 'lpr_fixing', 'lpr_confirmation')


def upgrade() -> None:
    if op.get_bind().dialect.name == 'sqlite':
        return
    for table in TABLES:
        op.alter_column(table, 'audit_seq', existing_type=sa.Integer(), type_=sa.BigInteger(),
                        existing_nullable=True)


def downgrade() -> None:
    if op.get_bind().dialect.name == 'sqlite':
        return
    for table in TABLES:
        op.alter_column(table, 'audit_seq', existing_type=sa.BigInteger(), type_=sa.Integer(),
                        existing_nullable=True)
