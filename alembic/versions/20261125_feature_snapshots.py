"""Feature snapshots: the exact vector each decision scored (canonical JSON, SHA-256, catalog version),
and the platform's industry seasonal index cached per as-of month.

Revision ID: 0007_feature_snapshots
Revises: 0006_console_session
Create Date: 2026-11-25 10:28:22.982219
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0007_feature_snapshots'
down_revision: str | None = '0006_console_session'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('industry_seasonality',
    sa.Column('as_of_month', sa.Date(), nullable=False),
    sa.Column('computed_as_of', sa.DateTime(timezone=True), nullable=False),
    sa.Column('index_json', sa.Text(), nullable=False),
    sa.Column('index_sha256', sa.String(length=64), nullable=False),
    sa.Column('dealers', sa.Integer(), nullable=False),
    sa.Column('computed_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('as_of_month', name=op.f('pk_industry_seasonality'))
    )
    op.create_table('feature_snapshot',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('dealer_id', sa.String(length=32), nullable=False),
    sa.Column('as_of', sa.DateTime(timezone=True), nullable=False),
    sa.Column('catalog_version', sa.String(length=64), nullable=False),
    sa.Column('features_json', sa.Text(), nullable=False),
    sa.Column('features_sha256', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['dealer_id'], ['dealer.id'], name=op.f('fk_feature_snapshot_dealer_id_dealer')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_feature_snapshot')),
    sa.UniqueConstraint('dealer_id', 'as_of', 'catalog_version',
                        name='uq_feature_snapshot_dealer_as_of_catalog')
    )


def downgrade() -> None:
    op.drop_table('feature_snapshot')
    op.drop_table('industry_seasonality')
