"""Decision core: rule sets as data (at most one active, by a partial unique index), decision records with
their inputs and explanation, and the review queue with maker-checker.

Revision ID: 0004_decision_core
Revises: 0003_credit_ledger
Create Date: 2026-11-25 09:51:48.387813
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0004_decision_core'
down_revision: str | None = '0003_credit_ledger'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('rule_set',
    sa.Column('version', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('author', sa.String(length=128), nullable=False),
    sa.Column('approver', sa.String(length=128), nullable=True),
    sa.Column('based_on', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('approved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('activated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('activated_by', sa.String(length=128), nullable=True),
    sa.Column('retired_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status = 'draft' OR approver IS NOT NULL", name=op.f('ck_rule_set_approved_before_use')),
    sa.CheckConstraint("status IN ('draft', 'active', 'retired')", name=op.f('ck_rule_set_status_known')),
    sa.CheckConstraint('approver IS NULL OR approver <> author', name=op.f('ck_rule_set_approver_not_author')),
    sa.PrimaryKeyConstraint('version', name=op.f('pk_rule_set'))
    )
    with op.batch_alter_table('rule_set', schema=None) as batch_op:
        batch_op.create_index('uq_rule_set_one_active', ['status'], unique=True, sqlite_where=sa.text("status = 'active'"), postgresql_where=sa.text("status = 'active'"))

    op.create_table('decision',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('dealer_id', sa.String(length=32), nullable=False),
    sa.Column('bank_id', sa.String(length=32), nullable=False),
    sa.Column('request_ref', sa.String(length=64), nullable=True),
    sa.Column('requested_amount', sa.Numeric(precision=18, scale=2), nullable=True),
    sa.Column('outcome', sa.String(length=8), nullable=False),
    sa.Column('model_grade', sa.String(length=8), nullable=True),
    sa.Column('grade', sa.String(length=8), nullable=True),
    sa.Column('pd', sa.Numeric(precision=12, scale=10), nullable=True),
    sa.Column('score', sa.Integer(), nullable=True),
    sa.Column('limit_amount', sa.Numeric(precision=18, scale=2), nullable=True),
    sa.Column('binding_constraint', sa.String(length=32), nullable=True),
    sa.Column('reason_codes', sa.Text(), nullable=False),
    sa.Column('inputs', sa.Text(), nullable=False),
    sa.Column('inputs_sha256', sa.String(length=64), nullable=False),
    sa.Column('model_version', sa.String(length=64), nullable=True),
    sa.Column('model_hash', sa.String(length=64), nullable=True),
    sa.Column('ruleset_version', sa.Integer(), nullable=False),
    sa.Column('ruleset_digest', sa.String(length=64), nullable=False),
    sa.Column('rule_results', sa.Text(), nullable=False),
    sa.Column('explanation', sa.Text(), nullable=False),
    sa.Column('document_sha256', sa.String(length=64), nullable=False),
    sa.Column('line_id', sa.String(length=32), nullable=True),
    sa.Column('audit_seq', sa.Integer(), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decided_by', sa.String(length=128), nullable=False),
    sa.CheckConstraint("kind IN ('credit_limit', 'order_loan')", name=op.f('ck_decision_kind_known')),
    sa.CheckConstraint("outcome IN ('approve', 'refer', 'decline')", name=op.f('ck_decision_outcome_known')),
    sa.CheckConstraint('limit_amount IS NULL OR limit_amount >= 0', name=op.f('ck_decision_limit_non_negative')),
    sa.CheckConstraint('pd IS NULL OR (pd >= 0 AND pd <= 1)', name=op.f('ck_decision_pd_probability')),
    sa.ForeignKeyConstraint(['bank_id'], ['bank.id'], name=op.f('fk_decision_bank_id_bank')),
    sa.ForeignKeyConstraint(['dealer_id'], ['dealer.id'], name=op.f('fk_decision_dealer_id_dealer')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_decision'))
    )
    with op.batch_alter_table('decision', schema=None) as batch_op:
        batch_op.create_index('ix_decision_bank_decided', ['bank_id', 'decided_at'], unique=False)
        batch_op.create_index('ix_decision_dealer_decided', ['dealer_id', 'decided_at'], unique=False)
        batch_op.create_index('ix_decision_kind_decided', ['kind', 'decided_at'], unique=False)

    op.create_table('review_case',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('decision_id', sa.String(length=32), nullable=False),
    sa.Column('dealer_id', sa.String(length=32), nullable=False),
    sa.Column('bank_id', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=24), nullable=False),
    sa.Column('proposed_limit', sa.Numeric(precision=18, scale=2), nullable=True),
    sa.Column('assignee', sa.String(length=128), nullable=True),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('assigned_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('pending_resolution', sa.String(length=8), nullable=True),
    sa.Column('pending_limit', sa.Numeric(precision=18, scale=2), nullable=True),
    sa.Column('pending_reason', sa.Text(), nullable=True),
    sa.Column('proposed_by', sa.String(length=128), nullable=True),
    sa.Column('proposed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resolution', sa.String(length=8), nullable=True),
    sa.Column('resolved_limit', sa.Numeric(precision=18, scale=2), nullable=True),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('resolved_by', sa.String(length=128), nullable=True),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('second_approver', sa.String(length=128), nullable=True),
    sa.Column('second_approved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('line_id', sa.String(length=32), nullable=True),
    sa.CheckConstraint("resolution IS NULL OR resolution IN ('approve', 'decline', 'adjust')", name=op.f('ck_review_case_resolution_known')),
    sa.CheckConstraint("status <> 'resolved' OR (resolution IS NOT NULL AND reason IS NOT NULL)", name=op.f('ck_review_case_resolved_with_reason')),
    sa.CheckConstraint("status IN ('open', 'assigned', 'awaiting_second_approval', 'resolved')", name=op.f('ck_review_case_status_known')),
    sa.CheckConstraint('second_approver IS NULL OR second_approver <> proposed_by', name=op.f('ck_review_case_checker_not_maker')),
    sa.ForeignKeyConstraint(['bank_id'], ['bank.id'], name=op.f('fk_review_case_bank_id_bank')),
    sa.ForeignKeyConstraint(['dealer_id'], ['dealer.id'], name=op.f('fk_review_case_dealer_id_dealer')),
    sa.ForeignKeyConstraint(['decision_id'], ['decision.id'], name=op.f('fk_review_case_decision_id_decision')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_review_case')),
    sa.UniqueConstraint('decision_id', name=op.f('uq_review_case_decision_id'))
    )
    with op.batch_alter_table('review_case', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_review_case_assignee'), ['assignee'], unique=False)
        batch_op.create_index('ix_review_case_bank_status', ['bank_id', 'status'], unique=False)
        batch_op.create_index('ix_review_case_status_opened', ['status', 'opened_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('review_case', schema=None) as batch_op:
        batch_op.drop_index('ix_review_case_status_opened')
        batch_op.drop_index('ix_review_case_bank_status')
        batch_op.drop_index(batch_op.f('ix_review_case_assignee'))

    op.drop_table('review_case')
    with op.batch_alter_table('decision', schema=None) as batch_op:
        batch_op.drop_index('ix_decision_kind_decided')
        batch_op.drop_index('ix_decision_dealer_decided')
        batch_op.drop_index('ix_decision_bank_decided')

    op.drop_table('decision')
    with op.batch_alter_table('rule_set', schema=None) as batch_op:
        batch_op.drop_index('uq_rule_set_one_active', sqlite_where=sa.text("status = 'active'"), postgresql_where=sa.text("status = 'active'"))

    op.drop_table('rule_set')
