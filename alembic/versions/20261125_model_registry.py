"""Model registry: registered PD model versions, one champion and at most one challenger.

Revision ID: 0006_model_registry
Revises: 0004_decision_core
Create Date: 2026-11-25 10:41:22.682588
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0006_model_registry'
down_revision: str | None = '0005_order_loans'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('model_version',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('version', sa.String(length=64), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('path', sa.String(length=500), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('metrics', sa.Text(), nullable=False),
    sa.Column('training_fingerprint', sa.String(length=64), nullable=False),
    sa.Column('card', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.String(length=128), nullable=False),
    sa.Column('promoted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('promoted_by', sa.String(length=128), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_model_version')),
    sa.UniqueConstraint('content_hash', name=op.f('uq_model_version_content_hash')),
    sa.UniqueConstraint('version', name=op.f('uq_model_version_version'))
    )
    with op.batch_alter_table('model_version', schema=None) as batch_op:
        batch_op.create_index('uq_model_version_one_challenger', ['status'], unique=True, sqlite_where=sa.text("status = 'challenger'"), postgresql_where=sa.text("status = 'challenger'"))
        batch_op.create_index('uq_model_version_one_champion', ['status'], unique=True, sqlite_where=sa.text("status = 'champion'"), postgresql_where=sa.text("status = 'champion'"))



def downgrade() -> None:
    with op.batch_alter_table('model_version', schema=None) as batch_op:
        batch_op.drop_index('uq_model_version_one_champion', sqlite_where=sa.text("status = 'champion'"), postgresql_where=sa.text("status = 'champion'"))
        batch_op.drop_index('uq_model_version_one_challenger', sqlite_where=sa.text("status = 'challenger'"), postgresql_where=sa.text("status = 'challenger'"))

    op.drop_table('model_version')
