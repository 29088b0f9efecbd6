"""Review cases: `superseded`, a case closed by a newer credit-limit decision for the dealer and bank, which
`superseded_by` names.

Revision ID: 0011_review_superseded
Revises: 0010_guarantor_controllers
Create Date: 2026-11-25 20:00:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0011_review_superseded'
down_revision: str | None = '0010_guarantor_controllers'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATUSES = "'open', 'assigned', 'awaiting_second_approval', 'resolved'"


def upgrade() -> None:
    with op.batch_alter_table('review_case', schema=None) as batch_op:
        batch_op.add_column(sa.Column('superseded_by', sa.String(length=32), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f('fk_review_case_superseded_by_decision'), 'decision', ['superseded_by'], ['id']
        )
        batch_op.drop_constraint(batch_op.f('ck_review_case_status_known'), type_='check')
        batch_op.create_check_constraint(
            batch_op.f('ck_review_case_status_known'), f"status IN ({STATUSES}, 'superseded')"
        )
        batch_op.create_check_constraint(
            batch_op.f('ck_review_case_superseded_names_decision'),
            "status <> 'superseded' OR superseded_by IS NOT NULL",
        )
        # every credit-limit decision looks up the dealer's active cases at its bank
        batch_op.create_index('ix_review_case_dealer_bank_status', ['dealer_id', 'bank_id', 'status'], unique=False)


def downgrade() -> None:
    # the old status set has no `superseded`: such a case reads as declined, its reason naming the decision
    review_case = sa.table(
        'review_case',
        sa.column('status', sa.String),
        sa.column('resolution', sa.String),
        sa.column('reason', sa.Text),
        sa.column('superseded_by', sa.String),
    )
    op.execute(
        review_case.update()
        .where(review_case.c.status == 'superseded')
        .values(
            status='resolved',
            resolution='decline',
            reason=sa.literal('superseded by decision ') + review_case.c.superseded_by,
        )
    )
    with op.batch_alter_table('review_case', schema=None) as batch_op:
        batch_op.drop_index('ix_review_case_dealer_bank_status')
        batch_op.drop_constraint(batch_op.f('ck_review_case_superseded_names_decision'), type_='check')
        batch_op.drop_constraint(batch_op.f('ck_review_case_status_known'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_review_case_status_known'), f"status IN ({STATUSES})")
        batch_op.drop_constraint(batch_op.f('fk_review_case_superseded_by_decision'), type_='foreignkey')
        batch_op.drop_column('superseded_by')
