"""Order loans: the operator-maintained one-year LPR table — `lpr_fixing` (fixings recorded as announced,
beside the bundled CSV) and `lpr_confirmation` (the date through which the table is known complete), each
row with its audit entry.

Revision ID: 0012_lpr_records
Revises: 0011_review_superseded
Create Date: 2026-11-25 21:00:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0012_lpr_records'
down_revision: str | None = '0011_review_superseded'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('lpr_fixing',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('effective_date', sa.Date(), nullable=False),
    sa.Column('rate', sa.Numeric(precision=12, scale=6), nullable=False),
    sa.Column('source', sa.String(length=200), nullable=False),
    sa.Column('recorded_by', sa.String(length=128), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('audit_seq', sa.Integer(), nullable=True),
    sa.CheckConstraint('rate > 0 AND rate < 0.2', name=op.f('ck_lpr_fixing_rate_plausible')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lpr_fixing'))
    )
    with op.batch_alter_table('lpr_fixing', schema=None) as batch_op:
        batch_op.create_index('ix_lpr_fixing_effective_date', ['effective_date'], unique=False)

    op.create_table('lpr_confirmation',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('confirmed_through', sa.Date(), nullable=False),
    sa.Column('source', sa.String(length=200), nullable=False),
    sa.Column('recorded_by', sa.String(length=128), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('audit_seq', sa.Integer(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lpr_confirmation'))
    )
    with op.batch_alter_table('lpr_confirmation', schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f('ix_lpr_confirmation_confirmed_through'), ['confirmed_through'], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table('lpr_confirmation', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lpr_confirmation_confirmed_through'))
    op.drop_table('lpr_confirmation')

    with op.batch_alter_table('lpr_fixing', schema=None) as batch_op:
        batch_op.drop_index('ix_lpr_fixing_effective_date')
    op.drop_table('lpr_fixing')
