"""Review cases remember the audit entry of their resolution (``review.resolved``), so a bank can poll the
resolutions of its referred decisions in commit order (``GET /v1/reviews/resolutions?after_seq=``). Cases
resolved before this revision get it from the audit trail.

Revision ID: 0014_review_resolution_seq
Revises: 0013_audit_seq_bigint
Create Date: 2026-11-25 21:30:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0014_review_resolution_seq'
down_revision: str | None = '0013_audit_seq_bigint'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('review_case', schema=None) as batch_op:
        batch_op.add_column(sa.Column('resolution_audit_seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'),
                                      nullable=True))
        batch_op.create_index('ix_review_case_bank_resolution_seq', ['bank_id', 'resolution_audit_seq'],
                              unique=False)
    op.execute(
        "UPDATE review_case SET resolution_audit_seq = (SELECT max(seq) FROM audit_entry "
        "WHERE audit_entry.action = 'review.resolved' AND audit_entry.subject_type = 'review_case' "
        "AND audit_entry.subject_id = review_case.id) WHERE status = 'resolved'"
    )


def downgrade() -> None:
    with op.batch_alter_table('review_case', schema=None) as batch_op:
        batch_op.drop_index('ix_review_case_bank_resolution_seq')
        batch_op.drop_column('resolution_audit_seq')
