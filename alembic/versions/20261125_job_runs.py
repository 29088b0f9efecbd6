"""Scheduler: job_run, one row per run of a scheduled job; a partial unique index on (job, slot) for
scheduled runs makes each slot run once across schedulers and restarts.

Revision ID: 0005_job_runs
Revises: 0004_decision_core
Create Date: 2026-11-25 10:10:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0005_job_runs'
down_revision: str | None = '0004_decision_core'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('job_run',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('job', sa.String(length=64), nullable=False),
    sa.Column('slot', sa.DateTime(timezone=True), nullable=False),
    sa.Column('trigger', sa.String(length=8), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('runner', sa.String(length=128), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('lease_until', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('result', sa.JSON(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.CheckConstraint("status IN ('running', 'succeeded', 'failed')", name=op.f('ck_job_run_status_known')),
    sa.CheckConstraint("trigger IN ('schedule', 'manual')", name=op.f('ck_job_run_trigger_known')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_job_run'))
    )
    with op.batch_alter_table('job_run', schema=None) as batch_op:
        batch_op.create_index('ix_job_run_job_started', ['job', 'started_at'], unique=False)
        batch_op.create_index('uq_job_run_scheduled_slot', ['job', 'slot'], unique=True, sqlite_where=sa.text("trigger = 'schedule'"), postgresql_where=sa.text("trigger = 'schedule'"))


def downgrade() -> None:
    with op.batch_alter_table('job_run', schema=None) as batch_op:
        batch_op.drop_index('uq_job_run_scheduled_slot', sqlite_where=sa.text("trigger = 'schedule'"), postgresql_where=sa.text("trigger = 'schedule'"))
        batch_op.drop_index('ix_job_run_job_started')

    op.drop_table('job_run')
