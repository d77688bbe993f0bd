"""compliance evidence and the waivers seen

- ``evidence``: one record per ``catalog check``: canonical JSON of the report, its
  sha256 as the primary key, hash-chained per subject (``chain``, ``seq``,
  ``prev_digest``). Rows are only ever inserted.
- ``waiver_seen``: when each waiver (by the digest of its text) was first seen, so a
  waiver already expired at that moment is refused.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "evidence",
        sa.Column("digest", sa.String(64), primary_key=True),
        sa.Column("chain", sa.String(2048), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("prev_digest", sa.String(64), nullable=False),
        sa.Column("subject_guid", sa.String(36), nullable=False),
        sa.Column("version_guid", sa.String(36), nullable=False),
        sa.Column("verdict", sa.String(16), nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.Column("by", sa.String(255), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.UniqueConstraint("chain", "seq", name="uq_evidence_chain_seq"),
    )
    op.create_index("ix_evidence_version", "evidence", ["version_guid"])
    op.create_index("ix_evidence_subject", "evidence", ["subject_guid"])
    op.create_table(
        "waiver_seen",
        sa.Column("digest", sa.String(64), primary_key=True),
        sa.Column("rule", sa.String(255), nullable=False),
        sa.Column("scope", sa.String(2048), nullable=False),
        sa.Column("first_seen", sa.BigInteger(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("waiver_seen")
    op.drop_index("ix_evidence_subject", "evidence")
    op.drop_index("ix_evidence_version", "evidence")
    op.drop_table("evidence")
