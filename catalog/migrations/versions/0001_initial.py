"""initial catalog schema: entities, lineage edges, classifications, audit, cursors, findings

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "entity",
        sa.Column("guid", sa.String(36), primary_key=True),
        sa.Column("type_name", sa.String(255), nullable=False),
        sa.Column("qualified_name", sa.String(2048), nullable=False),
        sa.Column("name", sa.String(2048), nullable=True),
        sa.Column("is_process", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attributes", sa.Text(), nullable=False),
        sa.Column("relationship_attributes", sa.Text(), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.Column("created_by", sa.String(255), nullable=False),
        sa.Column("updated_by", sa.String(255), nullable=False),
        sa.Column("source", sa.String(1024), nullable=False),
    )
    op.create_index("ix_entity_qualified_name", "entity", ["qualified_name"])
    op.create_index("ix_entity_type_name", "entity", ["type_name"])
    op.create_table(
        "lineage_edge",
        sa.Column("from_guid", sa.String(36), primary_key=True),
        sa.Column("to_guid", sa.String(36), primary_key=True),
        sa.Column("direction", sa.String(1), nullable=False),
        sa.Column("relationship_guid", sa.String(36), nullable=False),
    )
    op.create_index("ix_lineage_edge_to", "lineage_edge", ["to_guid"])
    op.create_table(
        "classification",
        sa.Column("entity_guid", sa.String(36), primary_key=True),
        sa.Column("type_name", sa.String(255), primary_key=True),
        sa.Column("source_guid", sa.String(36), primary_key=True),
        sa.Column("propagate", sa.Boolean(), nullable=False),
        sa.Column("attributes", sa.Text(), nullable=False),
        sa.Column("origin", sa.String(1024), nullable=False),
    )
    op.create_index("ix_classification_type", "classification", ["type_name"])
    op.create_table(
        "audit_event",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.Column("user", sa.String(255), nullable=False),
        sa.Column("source", sa.String(1024), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("entity_guid", sa.String(36), nullable=False),
        sa.Column("type_name", sa.String(255), nullable=False),
        sa.Column("qualified_name", sa.String(2048), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
    )
    op.create_index("ix_audit_event_entity", "audit_event", ["entity_guid"])
    op.create_table(
        "ingest_cursor",
        sa.Column("name", sa.String(512), primary_key=True),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "finding",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("source", sa.String(1024), nullable=False),
        sa.Column("kind", sa.String(128), nullable=False),
        sa.Column("subject", sa.String(2048), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("first_seen", sa.BigInteger(), nullable=False),
        sa.UniqueConstraint("source", "digest", name="uq_finding"),
    )
    op.create_index("ix_finding_subject", "finding", ["subject"])


def downgrade() -> None:
    for table in ("finding", "ingest_cursor", "audit_event", "classification", "lineage_edge", "entity"):
        op.drop_table(table)
