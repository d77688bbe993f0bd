"""the MLflow hook: accepted delivery ids and the durable work queue

- ``hook_delivery``: each accepted ``X-MLflow-Delivery-Id`` until its timestamp leaves
  the window (a replay inside the window is refused);
- ``hook_job``: one row per registry change to ingest (or alias move to gate), written in
  the request's transaction and worked off by ``catalog serve``'s worker.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "hook_delivery",
        sa.Column("delivery_id", sa.String(255), primary_key=True),
        sa.Column("received_at", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
    )
    op.create_index("ix_hook_delivery_expires", "hook_delivery", ["expires_at"])
    op.create_table(
        "hook_job",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("origin", sa.String(16), nullable=False),
        sa.Column("delivery_id", sa.String(255), nullable=False),
        sa.Column("event", sa.String(64), nullable=False),
        sa.Column("model", sa.String(2048), nullable=False),
        sa.Column("version", sa.String(32), nullable=False),
        sa.Column("alias", sa.String(255), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.BigInteger(), nullable=False),
        sa.Column("lease_until", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("result", sa.Text(), nullable=False),
    )
    op.create_index("ix_hook_job_due", "hook_job", ["status", "next_attempt_at"])
    op.create_index("ix_hook_job_digest", "hook_job", ["digest"])


def downgrade() -> None:
    op.drop_index("ix_hook_job_digest", "hook_job")
    op.drop_index("ix_hook_job_due", "hook_job")
    op.drop_table("hook_job")
    op.drop_index("ix_hook_delivery_expires", "hook_delivery")
    op.drop_table("hook_delivery")
