"""entity.incoming_hash: the digest of what the writing source last sent

Lets an unchanged re-ingest skip an entity before merging, validating or converting it.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("entity") as batch:
        batch.add_column(sa.Column("incoming_hash", sa.String(64), nullable=False, server_default=""))
    # Covers the unchanged-entity check (source, guid -> incoming_hash) without reading entity rows.
    op.create_index("ix_entity_source_incoming", "entity", ["source", "guid", "incoming_hash"])


def downgrade() -> None:
    op.drop_index("ix_entity_source_incoming", "entity")
    with op.batch_alter_table("entity") as batch:
        batch.drop_column("incoming_hash")
