"""Guarantors: the credit codes of their controlling shareholders and actual controllers, whom they may not
guarantee (融资担保公司监督管理条例 Art. 17).

Revision ID: 0010_guarantor_controllers
Revises: 0009_decision_seq_cursor
Create Date: 2026-11-25 19:00:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0010_guarantor_controllers'
down_revision: str | None = '0009_decision_seq_cursor'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('guarantor', schema=None) as batch_op:
        batch_op.add_column(sa.Column('controlling_parties', sa.JSON(), server_default=sa.text("'[]'"), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('guarantor', schema=None) as batch_op:
        batch_op.drop_column('controlling_parties')
