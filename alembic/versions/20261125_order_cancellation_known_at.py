"""Orders: when a cancellation became known, so a back-dated one never changes features as of an earlier date.

Revision ID: 0008_order_cancel_known
Revises: 0007_feature_snapshots
Create Date: 2026-11-25 11:49:53.994535
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0008_order_cancel_known'
down_revision: str | None = '0007_feature_snapshots'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('trade_order', schema=None) as batch_op:
        batch_op.add_column(sa.Column('cancelled_recorded_at', sa.DateTime(timezone=True), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('trade_order', schema=None) as batch_op:
        batch_op.drop_column('cancelled_recorded_at')

