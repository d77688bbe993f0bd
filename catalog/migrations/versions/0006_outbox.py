"""the push to a real Atlas: sinks, the transactional outbox and what each sink acknowledged

- ``outbox_sink``: a configured push target (Atlas's REST API or its hook-message endpoint);
- ``outbox``: one row per committed entity change and sink, written in the change's own
  transaction, deleted when the sink acknowledged it;
- ``outbox_pushed``: per sink and entity, the sink's guid and the digest of the body it took.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outbox_sink",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("target", sa.String(2048), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("last_push_at", sa.BigInteger(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("last_error_at", sa.BigInteger(), nullable=False),
        sa.Column("lease_owner", sa.String(255), nullable=False),
        sa.Column("lease_until", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("sink", sa.String(64), nullable=False),
        sa.Column("entity_guid", sa.String(36), nullable=False),
        sa.Column("type_name", sa.String(255), nullable=False),
        sa.Column("qualified_name", sa.String(2048), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.BigInteger(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
    )
    op.create_index("ix_outbox_entity", "outbox", ["entity_guid"])
    op.create_table(
        "outbox_pushed",
        sa.Column("sink", sa.String(64), primary_key=True),
        sa.Column("entity_guid", sa.String(36), primary_key=True),
        sa.Column("remote_guid", sa.String(64), nullable=False),
        sa.Column("body_hash", sa.String(64), nullable=False),
        sa.Column("pushed_at", sa.BigInteger(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("outbox_pushed")
    op.drop_index("ix_outbox_entity", "outbox")
    op.drop_table("outbox")
    op.drop_table("outbox_sink")
